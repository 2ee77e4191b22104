import { EvomemError } from '../errors.js';
import { readLocomo } from './locomo.js';
import { readLongMemEval } from './longmemeval.js';
import type { EvalDataset, UnitKind } from './types.js';
import { readJsonFile } from './validate.js';

export interface ReadDatasetOptions {
  /** @default detected from the first record */
  format?: 'locomo' | 'longmemeval';
  /** @default 'turn' */
  unit?: UnitKind;
  /** LoCoMo category 5 / LongMemEval `_abs` questions. @default false */
  includeAdversarial?: boolean;
}

/** Reads a LoCoMo or LongMemEval file, detecting which by its first record. */
export async function readDataset(file: string, options: ReadDatasetOptions = {}): Promise<EvalDataset> {
  const format = options.format ?? detect(file, await readJsonFile(file));
  const unit = options.unit ?? 'turn';
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
    `${file}: cannot tell its format; expected a list of LoCoMo samples (with "conversation") or LongMemEval questions (with "haystack_sessions"). Pass --format if it is one of them.`,
  );
}
