import { EvomemError } from '../errors.js';
import { MemoryStateStore } from './memory.js';
import { PostgresStateStore } from './postgres.js';
import { SqliteStateStore } from './sqlite.js';
import type { StateStore } from './StateStore.js';

/**
 * Opens a state store from one string, as a config file or an environment variable gives
 * it: `sqlite:./evomem.db` (or a path ending in `.db`, `.sqlite`, `.sqlite3`),
 * `postgres://user:password@host/db`, or `memory:`.
 *
 * @example
 * const store = await openStateStore(process.env.EVOMEM_STATE ?? 'sqlite:./evomem.db');
 */
export async function openStateStore(where: string): Promise<StateStore> {
  if (typeof where !== 'string' || where.trim() === '') throw invalid(where);
  if (where === 'memory:' || where === ':memory:') return new MemoryStateStore();
  if (/^postgres(ql)?:\/\//.test(where)) return PostgresStateStore.open({ connectionString: where });
  if (where.startsWith('sqlite:')) return SqliteStateStore.open({ path: where.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') });
  if (/\.(db|sqlite3?)$/i.test(where) && !where.includes('://')) return SqliteStateStore.open({ path: where });
  throw invalid(where);
}

function invalid(where: unknown): EvomemError {
  return new EvomemError(
    'INVALID_OPTION',
    `Unknown state store ${JSON.stringify(where)}. Give sqlite:PATH (or a path ending in .db), postgres://user:password@host:port/database, or memory:.`,
  );
}
