import { EvomemError } from '../errors.js';

/** Another writer committed to the stream first; the ingest is re-run on the newer state. */
export function conflict(stream: string, cause?: unknown): EvomemError {
  return new EvomemError('STATE_CONFLICT', `Another writer committed to ${stream} first; run the ingest again on the newer state.`, cause === undefined ? {} : { cause });
}

/** Ids the stream already holds: refused, because later embeddings were conditioned on the old text. */
export function duplicateIds(stream: string, ids: readonly string[]): EvomemError {
  const shown = ids.slice(0, 5).map((id) => JSON.stringify(id)).join(', ');
  return new EvomemError(
    'SEGMENT_DUPLICATE',
    `Stream ${stream} already holds segment id${ids.length > 1 ? 's' : ''} ${shown}${ids.length > 5 ? ` and ${ids.length - 5} more` : ''}; ids are unique per stream. A retry of an ingest that was acknowledged finds its ids here; give new text a new id.`,
  );
}

/** Table prefixes go into SQL text, so only plain identifiers are taken. */
export function checkTablePrefix(prefix: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(prefix)) {
    throw new EvomemError('INVALID_OPTION', `tablePrefix ${JSON.stringify(prefix)} is not a plain SQL identifier (letters, digits, _; not starting with a digit).`);
  }
  return prefix;
}
