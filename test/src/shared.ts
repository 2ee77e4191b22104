import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The `shared/` folder of models and data beside the checkout (`../shared`), or
 * $EVOMEM_SHARED. CI always has it; a user's fresh clone does not, and the suites that
 * need it skip with this reason printed.
 */
export const sharedDir = process.env.EVOMEM_SHARED ?? resolve(repoRoot, '..', 'shared');
export const hasShared = existsSync(resolve(sharedDir, 'models'));

export function skipReason(suite: string): string | undefined {
  if (hasShared) return undefined;
  const reason = `SKIPPED ${suite}: ${sharedDir} not found (it holds the real tokenizers and LoCoMo data; CI has it). Set EVOMEM_SHARED to its path to run these tests.`;
  console.warn(reason);
  return reason;
}
