import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDataset } from '@evomem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './runCli.js';

// The README's format examples are parsed by the real readers, so the docs cannot drift.
const README = await readFile(new URL('../README.md', import.meta.url), 'utf8');

/** The first fenced block under a `### heading` of the README, before the next heading. */
function example(heading: string): string {
  const start = README.indexOf(`\n### ${heading}\n`);
  expect(start, `README has a "### ${heading}" section`).toBeGreaterThan(-1);
  const section = README.slice(start + 1).split(/\n#{2,3} /)[0]!;
  const block = /\n```(?:json|jsonl)\n([\s\S]*?)\n```\n/.exec(section);
  expect(block, `the "${heading}" section has a json block`).not.toBeNull();
  return `${block![1]}\n`;
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-readme-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const save = async (name: string, text: string) => {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
};

describe('README input formats', () => {
  it('LoCoMo: turns, captions, evidence, the adversarial skip, sessions and observations', async () => {
    const file = await save('locomo.json', example('LoCoMo'));
    const turns = await readDataset(file);
    expect(turns.format).toBe('locomo');
    expect(turns.corpora).toHaveLength(1);
    const [corpus] = turns.corpora;
    expect(corpus!.id).toBe('maya-theo');
    expect(corpus!.units.map((u) => u.key)).toEqual(['D1:1', 'D1:2', 'D2:1']);
    expect(corpus!.units[1]!.text).toBe('Theo: I adopted a greyhound called Pepper. [shares an image: a photo of a grey dog]');
    expect(corpus!.questions).toMatchObject([{ text: 'What dog did Theo adopt?', evidence: ['D1:2'], category: '4' }]);
    expect(turns.skipped).toEqual({ 'adversarial (category 5)': 1 });
    expect((await readDataset(file, { includeAdversarial: true })).skipped).toEqual({ 'no evidence': 1 });
    expect((await readDataset(file, { unit: 'session' })).corpora[0]!.units.map((u) => u.key)).toEqual(['S1', 'S2']);
    const observations = await readDataset(file, { unit: 'observation' });
    expect(observations.corpora[0]!.units).toMatchObject([{ key: 'D1:2', text: 'Theo adopted a greyhound named Pepper.' }]);
  });

  it('LongMemEval: one index per question, evidence by has_answer or answer_session_ids', async () => {
    const file = await save('longmemeval.json', example('LongMemEval'));
    const turns = await readDataset(file);
    expect(turns.format).toBe('longmemeval');
    expect(turns.corpora).toHaveLength(1);
    expect(turns.corpora[0]!.units.map((u) => u.key)).toEqual(['s1#0', 's1#1', 's2#0']);
    expect(turns.corpora[0]!.units[0]!.text).toBe('user: I just adopted a greyhound, I named her Pepper.');
    expect(turns.corpora[0]!.questions).toMatchObject([{ id: 'q-pepper', evidence: ['s1#0'], category: 'single-session-user' }]);
    expect((await readDataset(file, { unit: 'session' })).corpora[0]!.questions[0]!.evidence).toEqual(['s1']);
  });

  it('memory log: one index per user, a session per line, memories as queries', async () => {
    const file = await save('memories.jsonl', example('Memory log'));
    const log = await readDataset(file);
    expect(log.format).toBe('memory-log');
    expect(log.corpora).toHaveLength(1);
    expect(log.corpora[0]!.id).toBe('maya');
    expect(log.corpora[0]!.units.map((u) => u.key)).toEqual(['D1:1', 'D1:2', 'D2:1']);
    expect(log.corpora[0]!.questions).toMatchObject([
      { id: 'm1', text: 'Maya takes a pottery class on Tuesdays.', evidence: ['D1:1', 'D1:2'], category: 'memory' },
      { text: "Maya's pottery teacher is Ines.", evidence: ['D2:1'], category: 'memory' },
    ]);
  });

  it('every example runs through evomem eval', async () => {
    for (const [heading, name, questions] of [['LoCoMo', 'a.json', 1], ['LongMemEval', 'b.json', 1], ['Memory log', 'c.jsonl', 2]] as const) {
      const json = join(dir, `${name}.report.json`);
      const r = await runCli('eval', '--data', await save(name, example(heading)), '--json', json);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(await readFile(json, 'utf8')).questions).toBe(questions);
    }
  });
});
