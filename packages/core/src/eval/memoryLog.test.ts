import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appendMemoryLog } from './memoryLog.js';
import { readDataset } from './readDataset.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-log-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const call = (user: string, turns: [string, string][], memories: string[]) => ({
  user,
  time: '2026-05-07T18:30:00.000Z',
  turns: turns.map(([speaker, text]) => ({ speaker, text })),
  memories: memories.map((text) => ({ text })),
});

describe('memory log', () => {
  it('reads one corpus per user, one session per call, memories as queries over their turns', async () => {
    const file = join(dir, 'log.jsonl');
    await appendMemoryLog(file, call('maya', [['Maya', 'I joined a pottery class.'], ['Theo', 'Nice!']], ['Maya takes a pottery class.']));
    await appendMemoryLog(file, call('theo', [['Theo', 'I adopted Pepper, a greyhound.']], ['Theo has a greyhound named Pepper.', 'I adopted Pepper, a greyhound.']));
    await appendMemoryLog(file, call('maya', [['Maya', 'Lena moves to Denver.']], ['Lena is moving to Denver.']));
    const data = await readDataset(file);
    expect(data.format).toBe('memory-log');
    expect(data.corpora.map((c) => c.id)).toEqual(['maya', 'theo']);
    const maya = data.corpora[0]!;
    expect(maya.units.map((u) => u.key)).toEqual(['D1:1', 'D1:2', 'D2:1']);
    expect(maya.units[0]).toMatchObject({ text: 'Maya: I joined a pottery class.', speaker: 'Maya', session: '1', dateTime: '2026-05-07T18:30:00.000' });
    expect(maya.questions.map((q) => [q.text, q.evidence])).toEqual([
      ['Maya takes a pottery class.', ['D1:1', 'D1:2']],
      ['Lena is moving to Denver.', ['D2:1']],
    ]);
    expect(data.skipped).toEqual({ 'memory is a stored turn': 1 });
    const sessions = await readDataset(file, { unit: 'session' });
    expect(sessions.corpora[0]!.units.map((u) => u.key)).toEqual(['S1', 'S2']);
    expect(sessions.corpora[0]!.questions[0]!.evidence).toEqual(['S1']);
  });

  it('keeps the whole lines before a torn last line, and names a bad line', async () => {
    const file = join(dir, 'torn.jsonl');
    await appendMemoryLog(file, call('maya', [['Maya', 'Hello there.']], ['Maya said hello.']));
    await writeFile(file, `${await readFile(file, 'utf8')}{"format":"evomem-memory-log","version":1,"user":"ma`);
    const data = await readDataset(file);
    expect(data.corpora[0]!.questions).toHaveLength(1);
    expect(data.skipped['torn last line']).toBe(1);

    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, `${JSON.stringify({ format: 'evomem-memory-log', version: 1, user: 'maya', time: 'x', turns: [{ speaker: 'Maya' }], memories: [] })}\n`);
    await expect(readDataset(bad)).rejects.toThrow(/bad\.jsonl: line 1\.turns\[0\]\.text must be a string; it is missing/);
    await expect(readDataset(file, { unit: 'observation' })).rejects.toThrow(/memory log: its units are turns or sessions/);
  });
});
