import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The `shared/` folder of models and data beside the checkout (`../shared`), or
 * $EVOMEM_SHARED. CI always has it, so there a missing folder fails the run instead of
 * skipping what it exists to test; a user's fresh clone does not, and the suites that need
 * it skip with the reason printed.
 */
export const sharedDir = process.env.EVOMEM_SHARED ?? resolve(repoRoot, '..', 'shared');
export const hasShared = existsSync(resolve(sharedDir, 'models'));

/** Undefined when `../shared` is there; else the reason to skip `suite`, printed. Throws under CI. */
export function skipReason(suite: string): string | undefined {
  if (hasShared) return undefined;
  const missing = `${resolve(sharedDir, 'models')} not found (../shared holds the real tokenizers and LoCoMo data). Set EVOMEM_SHARED to its path to run these tests.`;
  if (process.env.CI) throw new Error(`${suite}: CI must have ../shared: ${missing}`);
  const reason = `SKIPPED ${suite}: ${missing}`;
  console.warn(reason);
  return reason;
}
