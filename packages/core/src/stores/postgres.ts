import { EvomemError } from '../errors.js';
import { importOptional } from '../util/importOptional.js';
import { checkOptions, is } from '../util/options.js';
import { checkTablePrefix } from './storeErrors.js';
import type { LedgerEntry, StateChange, StateStore, StateTransaction, StoredStream } from './StateStore.js';

/** What the store uses of a `pg` Pool (a `pg.Pool` has it). */
export interface PgPool {
  connect(): Promise<PgClient>;
  end(): Promise<void>;
}

/** What the store uses of a pooled `pg` client. */
export interface PgClient {
  query<R = Record<string, unknown>>(text: string, values?: unknown[]): Promise<{ rows: R[]; rowCount: number | null }>;
  release(destroy?: boolean): void;
}


export interface PostgresStateStoreOptions {
  /** `postgres://user:password@host:port/database`. Give this or `pool`. */
  connectionString?: string;
  /** A `pg` Pool you already have; the store uses it and leaves it open on `close`. */
  pool?: PgPool;
  /** Connections of the pool the store makes: concurrent ingests into different streams. @default 10 */
  maxConnections?: number;
  /** Prefix of the three tables (`streams`, `slots`, `segments`). @default 'evomem_' */
  tablePrefix?: string;
  /**
   * How long an ingest waits for its stream's lock, held by another process's ingest,
   * before it fails with `STORE_UNAVAILABLE` (a process that hangs mid-ingest holds it
   * until its connection drops). @default 60000
   */
  lockTimeoutMs?: number;
}

const POSTGRES_SPEC = {
  connectionString: is.nonEmptyString,
  pool: { expect: 'a pg Pool', test: (v: unknown) => typeof v === 'object' && v !== null && typeof (v as PgPool).connect === 'function' && typeof (v as PgPool).end === 'function' },
  maxConnections: is.int(1),
  tablePrefix: is.string,
  lockTimeoutMs: is.int(1),
};

/**
 * Streams in PostgreSQL, shared by many processes and machines. An ingest takes a
 * transaction-scoped advisory lock on its stream, so ingests into one stream run one
 * after another across every process, each in one transaction; a process that dies
 * mid-ingest loses its connection, and with it its lock and its uncommitted writes.
 * Needs the `pg` package.
 *
 * @example
 * const store = await PostgresStateStore.open({ connectionString: process.env.DATABASE_URL });
 */
export class PostgresStateStore implements StateStore {
  readonly kind = 'postgres';
  readonly #pool: PgPool;
  readonly #ownsPool: boolean;
  readonly #t: { streams: string; slots: string; segments: string; lockSpace: string };
  readonly #where: string;
  readonly #lockTimeoutMs: number;

  private constructor(pool: PgPool, ownsPool: boolean, prefix: string, where: string, lockTimeoutMs: number) {
    this.#pool = pool;
    this.#lockTimeoutMs = lockTimeoutMs;
    this.#ownsPool = ownsPool;
    this.#where = where;
    this.#t = { streams: `${prefix}streams`, slots: `${prefix}slots`, segments: `${prefix}segments`, lockSpace: `${prefix}stream:` };
  }

  static async open(options: PostgresStateStoreOptions): Promise<PostgresStateStore> {
    checkOptions('PostgresStateStore.open', options, POSTGRES_SPEC);
    const prefix = checkTablePrefix(options.tablePrefix ?? 'evomem_');
    if (!options.pool && !options.connectionString) {
      throw new EvomemError('INVALID_OPTION', 'PostgresStateStore needs a connectionString (postgres://user:password@host:port/database) or a pg pool.');
    }
    const where = options.connectionString ? redact(options.connectionString) : 'the given pool';
    const lockTimeoutMs = options.lockTimeoutMs ?? 60_000;
    let pool = options.pool;
    if (!pool) {
      const pg = await importOptional<{ default: typeof import('pg') }>('pg', 'The PostgreSQL state store');
      const made = new pg.default.Pool({ connectionString: options.connectionString, max: options.maxConnections ?? 10 });
      // An idle client's connection error must not crash the process; the next query reports it.
      made.on('error', () => {});
      pool = made as unknown as PgPool;
    }
    const store = new PostgresStateStore(pool, !options.pool, prefix, where, lockTimeoutMs);
    await store.#migrate(prefix);
    return store;
  }

  async #migrate(prefix: string): Promise<void> {
    await this.#withClient(async (c) => {
      // Two processes creating the tables at once would race in the catalog.
      await c.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [`${prefix}migrate`]);
      try {
        await c.query(`
          CREATE TABLE IF NOT EXISTS ${prefix}streams (stream TEXT PRIMARY KEY, version BIGINT NOT NULL, header BYTEA NOT NULL);
          CREATE TABLE IF NOT EXISTS ${prefix}slots (stream TEXT NOT NULL, slot INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (stream, slot));
          CREATE TABLE IF NOT EXISTS ${prefix}segments (stream TEXT NOT NULL, id TEXT NOT NULL, seq BIGINT NOT NULL, version BIGINT NOT NULL, PRIMARY KEY (stream, id));
          CREATE INDEX IF NOT EXISTS ${prefix}segments_seq ON ${prefix}segments (stream, seq);
        `);
      } finally {
        await c.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [`${prefix}migrate`]);
      }
    });
  }

  async begin(stream: string, knownVersion?: number): Promise<StateTransaction> {
    const client = await this.#connect();
    const t = this.#t;
    let ended = false;
    const end = async (sql: 'COMMIT' | 'ROLLBACK', error?: unknown) => {
      ended = true;
      try {
        await client.query(sql);
        client.release();
      } catch (failure) {
        client.release(true);
        throw this.#fail(failure);
      }
      if (error) throw error;
    };
    let current: StoredStream | null;
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = ${this.#lockTimeoutMs}`);
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [t.lockSpace + stream]);
      current = await this.#readRows(client, stream, knownVersion);
    } catch (error) {
      await end('ROLLBACK').catch(() => {});
      if ((error as { code?: string }).code === '55P03') {
        throw new EvomemError('STORE_UNAVAILABLE', `Stream ${stream}'s lock in ${this.#where} stayed held by another ingest for lockTimeoutMs (${this.#lockTimeoutMs} ms); that process may hang. Its lock goes with its connection.`, { cause: error });
      }
      throw this.#fail(error);
    }
    const once = () => {
      if (ended) throw new EvomemError('STATE_INVALID', `The transaction on stream ${stream} has already ended.`);
    };
    return {
      current,
      existing: async (ids) => {
        once();
        const { rows } = await client.query<{ id: string }>(`SELECT id FROM ${t.segments} WHERE stream = $1 AND id = ANY($2::text[])`, [stream, ids]).catch((e: unknown) => {
          throw this.#fail(e);
        });
        return rows.map((r) => r.id);
      },
      commit: async (change: StateChange) => {
        once();
        const version = (current?.version ?? 0) + 1;
        try {
          if (current) await client.query(`UPDATE ${t.streams} SET version = $3, header = $2 WHERE stream = $1`, [stream, change.header, version]);
          else await client.query(`INSERT INTO ${t.streams} (stream, version, header) VALUES ($1, $3, $2)`, [stream, change.header, version]);
          if (change.replace) {
            await client.query(`DELETE FROM ${t.slots} WHERE stream = $1`, [stream]);
            await client.query(`DELETE FROM ${t.segments} WHERE stream = $1`, [stream]);
          }
          if (change.slots.length > 0) {
            await client.query(
              `INSERT INTO ${t.slots} (stream, slot, data) SELECT $1, * FROM unnest($2::int[], $3::bytea[]) ON CONFLICT (stream, slot) DO UPDATE SET data = excluded.data`,
              [stream, change.slots.map((s) => s.slot), change.slots.map((s) => Buffer.from(s.bytes))],
            );
          }
          if (change.segments.length > 0) {
            await client.query(`INSERT INTO ${t.segments} (stream, id, seq, version) SELECT $1, id, seq, $4 FROM unnest($2::text[], $3::bigint[]) AS u(id, seq)`, [
              stream,
              change.segments.map((s) => s.id),
              change.segments.map((s) => s.seq),
              version,
            ]);
          }
        } catch (error) {
          await end('ROLLBACK').catch(() => {});
          throw this.#fail(error);
        }
        await end('COMMIT');
      },
      rollback: async () => {
        if (!ended) await end('ROLLBACK');
      },
    };
  }

  async read(stream: string, knownVersion?: number): Promise<StoredStream | null> {
    return this.#withClient(async (c) => {
      await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      try {
        return await this.#readRows(c, stream, knownVersion);
      } finally {
        await c.query('COMMIT');
      }
    });
  }

  async streams(): Promise<string[]> {
    return this.#withClient(async (c) => (await c.query<{ stream: string }>(`SELECT stream FROM ${this.#t.streams} ORDER BY stream COLLATE "C"`)).rows.map((r) => r.stream));
  }

  async segments(stream: string, page: { afterSeq?: number; limit?: number } = {}): Promise<LedgerEntry[]> {
    return this.#withClient(async (c) => {
      const { rows } = await c.query<{ id: string; seq: string; version: string }>(
        `SELECT id, seq, version FROM ${this.#t.segments} WHERE stream = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [stream, page.afterSeq ?? -1, page.limit ?? null],
      );
      return rows.map((r) => ({ id: r.id, seq: Number(r.seq), version: Number(r.version) }));
    });
  }

  async delete(stream: string): Promise<boolean> {
    const t = this.#t;
    return this.#withClient(async (c) => {
      await c.query('BEGIN');
      try {
        // The stream's lock, so no ingest interleaves with the delete.
        await c.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [t.lockSpace + stream]);
        await c.query(`DELETE FROM ${t.slots} WHERE stream = $1`, [stream]);
        await c.query(`DELETE FROM ${t.segments} WHERE stream = $1`, [stream]);
        const { rowCount } = await c.query(`DELETE FROM ${t.streams} WHERE stream = $1`, [stream]);
        await c.query('COMMIT');
        return rowCount === 1;
      } catch (error) {
        await c.query('ROLLBACK').catch(() => {});
        throw error;
      }
    });
  }

  async stateBytes(stream: string): Promise<number> {
    const t = this.#t;
    return this.#withClient(async (c) => {
      const { rows } = await c.query<{ n: string | null }>(
        `SELECT coalesce((SELECT length(header) FROM ${t.streams} WHERE stream = $1), 0) + coalesce((SELECT sum(length(data)) FROM ${t.slots} WHERE stream = $1), 0) AS n`,
        [stream],
      );
      return Number(rows[0]?.n ?? 0);
    });
  }

  async close(): Promise<void> {
    if (this.#ownsPool) await this.#pool.end();
  }

  async #readRows(c: PgClient, stream: string, knownVersion: number | undefined): Promise<StoredStream | null> {
    const head = (await c.query<{ version: string; header: Buffer }>(`SELECT version, header FROM ${this.#t.streams} WHERE stream = $1`, [stream])).rows[0];
    if (!head) return null;
    const version = Number(head.version);
    const slots =
      version === knownVersion
        ? null
        : new Map((await c.query<{ slot: number; data: Buffer }>(`SELECT slot, data FROM ${this.#t.slots} WHERE stream = $1`, [stream])).rows.map((r) => [r.slot, r.data] as const));
    return { version, header: head.header, slots };
  }

  async #connect(): Promise<PgClient> {
    try {
      return await this.#pool.connect();
    } catch (error) {
      throw this.#fail(error);
    }
  }

  async #withClient<T>(fn: (c: PgClient) => Promise<T>): Promise<T> {
    const c = await this.#connect();
    try {
      return await fn(c);
    } catch (error) {
      throw this.#fail(error);
    } finally {
      c.release();
    }
  }

  #fail(error: unknown): unknown {
    if (error instanceof EvomemError) return error;
    return new EvomemError('STORE_UNAVAILABLE', `The PostgreSQL state store at ${this.#where} failed: ${(error as Error).message}`, { cause: error });
  }
}

/** The connection string without its password, for messages. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'the given connection string';
  }
}
