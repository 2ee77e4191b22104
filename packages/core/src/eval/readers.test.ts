import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvomemError } from '../errors.js';
import { parseDialogueDate } from './dates.js';
import { readDataset } from './readDataset.js';
import { readLocomo } from './locomo.js';
import { readLongMemEval } from './longmemeval.js';

const LME = fileURLToPath(new URL('./fixtures/longmemeval-mini.json', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../../../data/sample-conversation.json', import.meta.url));

const locomo = () => [
  {
    sample_id: 'conv-x',
    conversation: {
      speaker_a: 'Ana',
      speaker_b: 'Bo',
      session_1_date_time: '1:56 pm on 8 May, 2023',
      session_1: [
        { speaker: 'Ana', dia_id: 'D1:1', text: 'I joined a choir.' },
        { speaker: 'Bo', dia_id: 'D1:2', text: 'Look at this!', blip_caption: 'a photo of a red bicycle' },
      ],
      session_2_date_time: '9:05 am on 1 June, 2023',
      session_2: [{ speaker: 'Ana', dia_id: 'D2:1', text: 'The choir sang in a cathedral.' }],
    },
    qa: [
      { question: 'What did Ana join?', answer: 'A choir', evidence: ['D1:1'], category: 4 },
      { question: 'What did Bo show and where did the choir sing?', answer: '', evidence: ['D1:2; D2:1'], category: 1 },
      { question: 'What did Bo say about skiing?', adversarial_answer: 'x', evidence: ['D1:2'], category: 5 },
      { question: 'Is Ana musical?', answer: 'Likely', evidence: [], category: 3 },
    ],
    observation: { session_1_observation: { Ana: [['Ana joined a choir.', 'D1:1']], Bo: [['Bo has a red bicycle.', 'D1:2']] } },
  },
];

let dir: string;
const write = async (name: string, data: unknown) => {
  const file = join(dir, name);
  await writeFile(file, typeof data === 'string' ? data : JSON.stringify(data));
  return file;
};
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-readers-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('readLocomo', () => {
  it('indexes turns as "speaker: text" with image captions, keeping ids, sessions and dates', async () => {
    const ds = await readLocomo(await write('l.json', locomo()));
    const units = ds.corpora[0]!.units;
    expect(units.map((u) => u.key)).toEqual(['D1:1', 'D1:2', 'D2:1']);
    expect(units[1]).toEqual({ key: 'D1:2', text: 'Bo: Look at this! [shares an image: a photo of a red bicycle]', speaker: 'Bo', session: '1', dateTime: '2023-05-08T13:56:00' });
    expect(units[2]!.dateTime).toBe('2023-06-01T09:05:00');
  });

  it('splits packed evidence, skips adversarial and evidence-less questions, and counts them', async () => {
    const ds = await readLocomo(await write('l.json', locomo()));
    const qs = ds.corpora[0]!.questions;
    expect(qs.map((q) => [q.category, q.evidence])).toEqual([
      ['4', ['D1:1']],
      ['1', ['D1:2', 'D2:1']],
    ]);
    expect(ds.skipped).toEqual({ 'adversarial (category 5)': 1, 'no evidence': 1 });
    const all = await readLocomo(await write('l.json', locomo()), { includeAdversarial: true });
    expect(all.corpora[0]!.questions).toHaveLength(3);
  });

  it('maps evidence to sessions for session units and to supporting turns for observations', async () => {
    const sessions = await readLocomo(await write('l.json', locomo()), { unit: 'session' });
    expect(sessions.corpora[0]!.units.map((u) => u.key)).toEqual(['S1', 'S2']);
    expect(sessions.corpora[0]!.units[0]!.text).toBe('Ana: I joined a choir.\nBo: Look at this! [shares an image: a photo of a red bicycle]');
    expect(sessions.corpora[0]!.questions[1]!.evidence).toEqual(['S1', 'S2']);
    const obs = await readLocomo(await write('l.json', locomo()), { unit: 'observation' });
    expect(obs.corpora[0]!.units).toEqual([
      { key: 'D1:1', text: 'Ana joined a choir.', speaker: 'Ana', session: '1', dateTime: '2023-05-08T13:56:00' },
      { key: 'D1:2', text: 'Bo has a red bicycle.', speaker: 'Bo', session: '1', dateTime: '2023-05-08T13:56:00' },
    ]);
  });

  it('names the file, the record and the field of malformed input', async () => {
    const message = (p: Promise<unknown>) => p.then(() => 'resolved', (e: EvomemError) => `${e.code}: ${e.message}`);
    const noConversation = [{ sample_id: 'a', qa: [] }];
    expect(await message(readLocomo(await write('bad1.json', noConversation)))).toMatch(/^DATASET_INVALID: .*bad1\.json: \$\[0\]\.conversation must be an object; it is missing\.$/);
    const noText = locomo();
    delete (noText[0]!.conversation.session_1[1] as { text?: string }).text;
    expect(await message(readLocomo(await write('bad2.json', noText)))).toMatch(/bad2\.json: \$\[0\]\.conversation\.session_1\[1\]\.text must be a string; it is missing/);
    const badId = locomo();
    badId[0]!.conversation.session_2[0]!.dia_id = 'turn-7';
    expect(await message(readLocomo(await write('bad3.json', badId)))).toMatch(/\$\[0\]\.conversation\.session_2\[0\]\.dia_id must be a dia_id like "D1:3"; got "turn-7"/);
    expect(await message(readLocomo(await write('bad4.json', '[{"sample_id": ')))).toMatch(/^DATASET_INVALID: .*bad4\.json is not valid JSON/);
    expect(await message(readLocomo(join(dir, 'missing.json')))).toMatch(/^DATASET_INVALID: Cannot read .*missing\.json/);
    expect(await message(readLocomo(await write('bad5.json', { not: 'a list' })))).toMatch(/\$ must be an array/);
  });

  it('reads the sample conversation the repository ships', async () => {
    const ds = await readDataset(SAMPLE);
    expect(ds.format).toBe('locomo');
    expect(ds.corpora[0]!.units).toHaveLength(28);
    expect(ds.corpora[0]!.questions).toHaveLength(8);
  });
});

describe('readLongMemEval', () => {
  it('makes each question its own corpus of turns, with has_answer turns as evidence', async () => {
    const ds = await readLongMemEval(LME);
    expect(ds.corpora.map((c) => c.id)).toEqual(['q-pottery', 'q-move']);
    const pottery = ds.corpora[0]!;
    expect(pottery.units.map((u) => u.key)).toEqual(['s-a#0', 's-a#1', 's-a#2', 's-b#0', 's-b#1']);
    expect(pottery.units[2]).toEqual({ key: 's-a#2', text: 'user: Ines, she used to run a studio in Lisbon.', speaker: 'user', session: 's-a', dateTime: '2023-05-20T02:21:00' });
    expect(pottery.questions[0]).toEqual({ id: 'q-pottery', text: 'Which studio did my pottery teacher run?', evidence: ['s-a#2'], category: 'single-session-user', date: '2023-06-02T10:00:00' });
    expect(ds.skipped).toEqual({ 'abstention (_abs)': 1 });
  });

  it('uses answer_session_ids for session units', async () => {
    const ds = await readLongMemEval(LME, { unit: 'session' });
    expect(ds.corpora[1]!.questions[0]!.evidence).toEqual(['s-d', 's-f']);
    expect(ds.corpora[1]!.units.map((u) => u.key)).toEqual(['s-d', 's-e', 's-f']);
  });

  it('names the record and field of malformed input', async () => {
    const recs = JSON.parse(await (await import('node:fs/promises')).readFile(LME, 'utf8'));
    recs[2].haystack_session_ids.pop();
    await expect(readLongMemEval(await write('lme-bad.json', recs))).rejects.toThrow(
      /lme-bad\.json: \$\[2\]\.haystack_sessions must be as long as haystack_session_ids \(2\); got "3 sessions"/,
    );
    delete recs[0].question;
    await expect(readLongMemEval(await write('lme-bad2.json', recs))).rejects.toThrow(/\$\[0\]\.question must be a string; it is missing/);
  });

  it('is detected by readDataset', async () => {
    expect((await readDataset(LME)).format).toBe('longmemeval');
    await expect(readDataset(await write('other.json', [{ foo: 1 }]))).rejects.toThrow(/cannot tell its format/);
  });
});

describe('parseDialogueDate', () => {
  it('reads LoCoMo and LongMemEval times', () => {
    expect(parseDialogueDate('12:48 am on 1 February, 2023')).toBe('2023-02-01T00:48:00');
    expect(parseDialogueDate('12:05 pm on 15 July, 2023')).toBe('2023-07-15T12:05:00');
    expect(parseDialogueDate('2023/05/20 (Sat) 02:21')).toBe('2023-05-20T02:21:00');
    expect(parseDialogueDate('next Tuesday')).toBeUndefined();
  });
});
