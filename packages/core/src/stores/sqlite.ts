import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EvomemError } from '../errors.js';
import { importOptional } from '../util/importOptional.js';
import { checkOptions, is } from '../util/options.js';
import { checkTablePrefix, conflict } from './storeErrors.js';
import type { LedgerEntry, StateChange, StateStore, StateTransaction, StoredStream } from './StateStore.js';

type Database = import('better-sqlite3').Database;

export interface SqliteStateStoreOptions {
  /** The database file; created with its folder if missing. `:memory:` keeps it in memory. */
  path: string;
  /**
   * SQLite's `synchronous` in WAL mode. `full`: a commit is on disk before `ingest`
   * resolves (survives power loss). `normal`: it survives the process being killed, and
   * the last commits may be lost on power loss, for several times the commit rate.
   * @default 'full'
   */
  synchronous?: 'full' | 'normal';
  /** How long a commit waits for another process's write to end. @default 5000 */
  busyTimeoutMs?: number;
  /** Prefix of the three tables (`streams`, `slots`, `segments`). @default 'evomem_' */
  tablePrefix?: string;
}

const SQLITE_SPEC = { path: is.nonEmptyString, synchronous: is.oneOf('full', 'normal'), busyTimeoutMs: is.int(0), tablePrefix: is.string };

/**
 * The embedded default: streams in one SQLite file (WAL), via `better-sqlite3`. Each
 * ingest commits in one transaction, so an acknowledged ingest survives `kill -9` and a
 * torn one leaves no trace. Several processes may share the file (one machine); a commit
 * that lost a race fails with `STATE_CONFLICT` and `EvolvingMemory` re-runs it on the newer
 * state, `beforeCommit` included. Writers are not queued, so two processes that write the
 * same segment id at once may leave the loser's vectors in your vector store under it; and
 * better-sqlite3 waits for another process's write synchronously (up to `busyTimeoutMs`).
 * For many writing processes or machines, use the PostgreSQL store.
 *
 * @example
 * const store = await SqliteStateStore.open({ path: './evomem.db' });
 */
export class SqliteStateStore implements StateStore {
  readonly kind = 'sqlite';
  readonly path: string;
  readonly #db: Database;
  readonly #sql: ReturnType<typeof statements>;

  private constructor(db: Database, path: string, prefix: string) {
    this.#db = db;
    this.path = path;
    this.#sql = statements(db, { streams: `${prefix}streams`, slots: `${prefix}slots`, segments: `${prefix}segments` });
  }

  static async open(options: SqliteStateStoreOptions): Promise<SqliteStateStore> {
    checkOptions('SqliteStateStore.open', options, SQLITE_SPEC);
    if (options?.path === undefined) throw new EvomemError('INVALID_OPTION', "SqliteStateStore.open needs path: the database file (created if missing), or ':memory:'.");
    const prefix = checkTablePrefix(options.tablePrefix ?? 'evomem_');
    const BetterSqlite = (await importOptional<{ default: typeof import('better-sqlite3') }>('better-sqlite3', 'the SQLite state store')).default;
    const path = options.path === ':memory:' ? options.path : resolve(options.path);
    let db: Database;
    try {
      if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
      db = new BetterSqlite(path, { timeout: options.busyTimeoutMs ?? 5000 });
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
      db.exec(`
        CREATE TABLE IF NOT EXISTS ${prefix}streams (stream TEXT PRIMARY KEY, version INTEGER NOT NULL, header BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS ${prefix}slots (stream TEXT NOT NULL, slot INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (stream, slot));
        CREATE TABLE IF NOT EXISTS ${prefix}segments (stream TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (stream, id));
        CREATE INDEX IF NOT EXISTS ${prefix}segments_seq ON ${prefix}segments (stream, seq);
      `);
    } catch (error) {
      throw new EvomemError('STORE_UNAVAILABLE', `Cannot open the SQLite state store at ${path}: ${(error as Error).message}. Check that the path is a writable file, not a folder.`, { cause: error });
    }
    return new SqliteStateStore(db, path, prefix);
  }

  async begin(stream: string, knownVersion?: number): Promise<StateTransaction> {
    const db = this.#db;
    const sql = this.#sql;
    // One read transaction, so the header and the slots are of the same commit.
    const current = this.#run(() => db.transaction(() => this.#readRows(stream, knownVersion))());
    let ended = false;
    const end = () => {
      if (ended) throw new EvomemError('STATE_INVALID', `The transaction on stream ${stream} has already ended.`);
      ended = true;
    };
    return {
      current,
      existing: async (ids) => this.#existing(stream, ids),
      commit: async (change: StateChange) => {
        end();
        this.#run(() =>
          db
            .transaction(() => {
              const moved = current
                ? sql.updateHeader.run(change.header, stream, current.version).changes !== 1
                : sql.insertHeader.run(stream, change.header).changes !== 1;
              if (moved) throw conflict(stream);
              if (change.replace) {
                sql.deleteSlots.run(stream);
                sql.deleteSegments.run(stream);
              }
              const version = (current?.version ?? 0) + 1;
              for (const s of change.slots) sql.upsertSlot.run(stream, s.slot, s.bytes);
              for (const s of change.segments) if (sql.insertSegment.run(stream, s.id, s.seq, version).changes !== 1) throw conflict(stream);
            })
            .immediate(),
        );
      },
      rollback: async () => {
        if (!ended) end();
      },
    };
  }

  async read(stream: string, knownVersion?: number): Promise<StoredStream | null> {
    return this.#run(() => this.#db.transaction(() => this.#readRows(stream, knownVersion))());
  }

  async streams(): Promise<string[]> {
    return this.#run(() => this.#sql.streams.all() as string[]);
  }

  async segments(stream: string, page: { afterSeq?: number; limit?: number } = {}): Promise<LedgerEntry[]> {
    return this.#run(
      () =>
        this.#sql.segments.all(stream, page.afterSeq ?? -1, page.limit ?? -1) as LedgerEntry[],
    );
  }

  async delete(stream: string): Promise<boolean> {
    const sql = this.#sql;
    return this.#run(() =>
      this.#db
        .transaction(() => {
          sql.deleteSlots.run(stream);
          sql.deleteSegments.run(stream);
          return sql.deleteStream.run(stream).changes === 1;
        })
        .immediate(),
    );
  }

  async stateBytes(stream: string): Promise<number> {
    const row = this.#run(() => this.#sql.stateBytes.get(stream, stream) as { n: number | null });
    return row.n ?? 0;
  }

  async close(): Promise<void> {
    if (this.#db.open) this.#db.close();
  }

  #readRows(stream: string, knownVersion: number | undefined): StoredStream | null {
    const head = this.#sql.header.get(stream) as { version: number; header: Buffer } | undefined;
    if (!head) return null;
    const slots = head.version === knownVersion ? null : new Map((this.#sql.slots.all(stream) as { slot: number; data: Buffer }[]).map((r) => [r.slot, r.data] as const));
    return { version: head.version, header: head.header, slots };
  }

  #existing(stream: string, ids: readonly string[]): string[] {
    const found: string[] = [];
    const stmt = this.#sql.existing;
    for (let i = 0; i < ids.length; i += 500) found.push(...(this.#run(() => stmt.all(stream, JSON.stringify(ids.slice(i, i + 500)))) as string[]));
    return found;
  }

  /** Runs a database call, giving its failures evomem's codes: busy is a conflict to retry, a closed store is disposed. */
  #run<T>(fn: () => T): T {
    if (!this.#db.open) throw new EvomemError('DISPOSED', `The SQLite state store at ${this.path} was closed.`);
    try {
      return fn();
    } catch (error) {
      if (error instanceof EvomemError) throw error;
      const code = (error as { code?: string }).code ?? '';
      if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
        throw new EvomemError('STATE_CONFLICT', `The SQLite state store at ${this.path} stayed locked by another process's write past busyTimeoutMs; the ingest is run again.`, { cause: error });
      }
      throw new EvomemError('STORE_UNAVAILABLE', `The SQLite state store at ${this.path} failed: ${(error as Error).message}`, { cause: error });
    }
  }
}


/** Every statement the store runs, prepared once when it opens. */
function statements(db: Database, t: { streams: string; slots: string; segments: string }) {
  return {
    header: db.prepare(`SELECT version, header FROM ${t.streams} WHERE stream = ?`),
    slots: db.prepare(`SELECT slot, data FROM ${t.slots} WHERE stream = ?`),
    updateHeader: db.prepare(`UPDATE ${t.streams} SET version = version + 1, header = ? WHERE stream = ? AND version = ?`),
    insertHeader: db.prepare(`INSERT INTO ${t.streams} (stream, version, header) VALUES (?, 1, ?) ON CONFLICT DO NOTHING`),
    upsertSlot: db.prepare(`INSERT INTO ${t.slots} (stream, slot, data) VALUES (?, ?, ?) ON CONFLICT (stream, slot) DO UPDATE SET data = excluded.data`),
    insertSegment: db.prepare(`INSERT INTO ${t.segments} (stream, id, seq, version) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`),
    existing: db.prepare(`SELECT id FROM ${t.segments} WHERE stream = ? AND id IN (SELECT value FROM json_each(?))`).pluck(),
    streams: db.prepare(`SELECT stream FROM ${t.streams} ORDER BY stream`).pluck(),
    segments: db.prepare(`SELECT id, seq, version FROM ${t.segments} WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?`),
    stateBytes: db.prepare(`SELECT (SELECT coalesce(length(header), 0) FROM ${t.streams} WHERE stream = ?) + (SELECT coalesce(sum(length(data)), 0) FROM ${t.slots} WHERE stream = ?) AS n`),
    deleteSlots: db.prepare(`DELETE FROM ${t.slots} WHERE stream = ?`),
    deleteSegments: db.prepare(`DELETE FROM ${t.segments} WHERE stream = ?`),
    deleteStream: db.prepare(`DELETE FROM ${t.streams} WHERE stream = ?`),
  };
}
