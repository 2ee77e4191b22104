import { open } from 'node:fs/promises';
import { EvomemError } from '../errors.js';
import { checkOptions, describeValue, is } from '../util/options.js';
import { readLocomo } from './locomo.js';
import { readLongMemEval } from './longmemeval.js';
import { looksLikeMemoryLog, readMemoryLog } from './memoryLog.js';
import type { EvalDataset, UnitKind } from './types.js';
import { readJsonFile } from './validate.js';

export interface ReadDatasetOptions {
  /** @default detected from the first record */
  format?: 'locomo' | 'longmemeval' | 'memory-log';
  /** @default 'turn' */
  unit?: UnitKind;
  /** LoCoMo category 5 / LongMemEval `_abs` questions. @default false */
  includeAdversarial?: boolean;
}

const READ_SPEC = { format: is.oneOf('locomo', 'longmemeval', 'memory-log'), unit: is.oneOf('turn', 'session', 'observation'), includeAdversarial: is.boolean };

/** Reads a LoCoMo or LongMemEval file or a memory log (JSONL), detecting which by its first record. */
export async function readDataset(file: string, options: ReadDatasetOptions = {}): Promise<EvalDataset> {
  checkOptions('readDataset', options, READ_SPEC);
  if (typeof file !== 'string' || file === '') throw new EvomemError('INVALID_OPTION', `readDataset takes the path of a dataset file, got ${describeValue(file)}.`);
  const unit = options.unit ?? 'turn';
  if (options.format === 'memory-log' || (options.format === undefined && looksLikeMemoryLog(await readHead(file)))) return readMemoryLog(file, { unit });
  const format = options.format ?? detect(file, await readJsonFile(file));
  if (format === 'longmemeval') {
    if (unit === 'observation') throw new EvomemError('INVALID_OPTION', `LongMemEval has no observations; use --unit turn or session.`);
    return readLongMemEval(file, { unit, includeAbstention: options.includeAdversarial ?? false });
  }
  return readLocomo(file, { unit, includeAdversarial: options.includeAdversarial ?? false });
}

function detect(file: string, data: unknown): 'locomo' | 'longmemeval' {
  const first = Array.isArray(data) ? (data[0] as Record<string, unknown> | undefined) : undefined;
  if (first && typeof first === 'object' && 'conversation' in first) return 'locomo';
  if (first && typeof first === 'object' && 'haystack_sessions' in first) return 'longmemeval';
  throw new EvomemError(
    'DATASET_INVALID',
    `${file}: cannot tell its format; expected a list of LoCoMo samples (with "conversation"), LongMemEval questions (with "haystack_sessions"), or an evomem memory log (JSONL). Pass --format if it is one of them.`,
  );
}

/** The first kilobytes of a file, to tell a JSONL log from a JSON document. */
async function readHead(file: string): Promise<string> {
  const handle = await open(file).catch((error: unknown) => {
    throw new EvomemError('DATASET_INVALID', `Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  });
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString('utf8');
  } finally {
    await handle.close();
  }
}
