import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvomemError } from '../errors.js';
import { parseTime } from '../util/dates.js';
import { parseDialogueDate } from './dates.js';
import { readLocomo } from './locomo.js';
import { readLongMemEval } from './longmemeval.js';
import { readMemoryLog } from './memoryLog.js';
import { readDataset } from './readDataset.js';

// The dataset readers' dates (one parser for readers and memory) and their options.

const LME = fileURLToPath(new URL('./fixtures/longmemeval-mini.json', import.meta.url));
const LOCOMO_DEV = join(process.env.EVOMEM_SHARED ?? fileURLToPath(new URL('../../../../../shared', import.meta.url)), 'data', 'locomo', 'locomo-dev.json');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-reader-inputs-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const logLine = (time: unknown) => `${JSON.stringify({ format: 'evomem-memory-log', version: 1, user: 'maya', time, turns: [{ speaker: 'Maya', text: 'I moved.' }], memories: [{ text: 'Maya moved.' }] })}\n`;

async function failure(run: () => Promise<unknown>): Promise<string> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EvomemError);
  return `${(error as EvomemError).code}: ${(error as EvomemError).message}`;
}

describe('dataset dates', () => {
  it('reads memory-log times with an offset as the UTC time they name', async () => {
    const file = join(dir, 'offsets.jsonl');
    await writeFile(file, logLine('2026-05-07T18:30:00+02:00') + logLine('2026-05-07T18:30:00Z') + logLine('2026-05-07'));
    const [corpus] = (await readMemoryLog(file)).corpora;
    expect(corpus!.units.map((u) => u.dateTime)).toEqual(['2026-05-07T16:30:00.000', '2026-05-07T18:30:00.000', '2026-05-07T00:00:00.000']);
    expect(corpus!.questions[0]!.date).toBe('2026-05-07T16:30:00.000');
  });

  it('refuses a memory-log time that is not a date, naming the file, line and field', async () => {
    const file = join(dir, 'bad-time.jsonl');
    await writeFile(file, logLine('2026-05-07T18:30:00Z') + logLine('yesterday evening'));
    expect(await failure(() => readMemoryLog(file))).toMatch(/^DATASET_INVALID: .*bad-time\.jsonl: line 2\.time must be a time: ISO 8601 .*; got "yesterday evening"\.$/);
  });

  it('reads every session date of the real LoCoMo file, and no impossible one', async () => {
    if (!existsSync(LOCOMO_DEV)) {
      if (process.env.CI) throw new Error(`CI must have ../shared: ${LOCOMO_DEV} is missing.`);
      console.warn(`SKIPPED the real LoCoMo dates: ${LOCOMO_DEV} not found. Set EVOMEM_SHARED to the shared folder's path.`);
      return;
    }
    const samples = JSON.parse(await readFile(LOCOMO_DEV, 'utf8')) as { conversation: Record<string, unknown> }[];
    const dates = samples.flatMap((s) => Object.entries(s.conversation).filter(([k]) => /^session_\d+_date_time$/.test(k)).map(([, v]) => v as string));
    expect(dates.length).toBeGreaterThan(30);
    for (const date of dates) expect(parseTime(date)?.format, date).toBe('locomo');
    const units = (await readLocomo(LOCOMO_DEV)).corpora.flatMap((c) => c.units);
    expect(units.every((u) => u.dateTime !== undefined && parseTime(u.dateTime) !== undefined)).toBe(true);
    expect(units[0]!.dateTime).toBe('2023-05-08T13:56:00');
    expect(parseDialogueDate('2:31 pm on 31 April, 2023')).toBeUndefined();
  });
});

describe('reader options', () => {
  it('refuses a misspelt or wrong option of every reader, naming the nearest', async () => {
    expect(await failure(() => readDataset(LME, { unti: 'turn' } as never))).toMatch(/^INVALID_OPTION: readDataset: unknown option 'unti'\. Did you mean 'unit'\?/);
    expect(await failure(() => readDataset(LME, { format: 'csv' } as never))).toBe(`INVALID_OPTION: readDataset: option 'format' must be "locomo", "longmemeval" or "memory-log", got "csv".`);
    expect(await failure(() => readDataset(42 as never))).toBe('INVALID_OPTION: readDataset takes the path of a dataset file, got 42.');
    expect(await failure(() => readLongMemEval(LME, { includeAbstentions: true } as never))).toContain("Did you mean 'includeAbstention'?");
    expect(await failure(() => readLongMemEval(LME, { unit: 'observation' } as never))).toBe(`INVALID_OPTION: readLongMemEval: option 'unit' must be "turn" or "session", got "observation".`);
    expect(await failure(() => readLocomo(LME, { includeAdversarial: 'yes' } as never))).toContain(`option 'includeAdversarial' must be true or false, got "yes"`);
    expect(await failure(() => readMemoryLog(LME, { units: 'turn' } as never))).toContain("readMemoryLog: unknown option 'units'. Did you mean 'unit'?");
  });
});
