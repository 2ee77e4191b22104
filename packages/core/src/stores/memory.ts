import { EvomemError } from '../errors.js';
import { KeyedMutex } from '../util/KeyedMutex.js';
import type { LedgerEntry, StateChange, StateStore, StateTransaction, StoredStream } from './StateStore.js';

interface Row {
  version: number;
  header: Uint8Array;
  slots: Map<number, Uint8Array>;
  ledger: Map<string, LedgerEntry>;
}

/**
 * Streams in process memory: for tests, evaluation and zero-configuration use. Its ledger
 * grows with every segment and everything is gone when the process ends; use the SQLite or
 * PostgreSQL store for anything that must last.
 *
 * @example
 * const memory = new EvolvingMemory(evolving, { store: new MemoryStateStore() });
 */
export class MemoryStateStore implements StateStore {
  readonly kind = 'memory';
  readonly #rows = new Map<string, Row>();
  readonly #locks = new KeyedMutex();
  #closed = false;

  async begin(stream: string, knownVersion?: number): Promise<StateTransaction> {
    this.#open();
    const release = await this.#locks.acquire(stream);
    const row = this.#rows.get(stream);
    let ended = false;
    const end = () => {
      if (ended) throw new EvomemError('STATE_INVALID', `The transaction on stream ${stream} has already ended.`);
      ended = true;
      release();
    };
    return {
      current: row ? { version: row.version, header: row.header, slots: knownVersion === row.version ? null : new Map(row.slots) } : null,
      existing: async (ids) => (row ? ids.filter((id) => row.ledger.has(id)) : []),
      commit: async (change: StateChange) => {
        end();
        const next: Row = row && !change.replace ? row : { version: row?.version ?? 0, header: change.header, slots: new Map(), ledger: new Map() };
        next.version++;
        next.header = change.header;
        for (const s of change.slots) next.slots.set(s.slot, s.bytes);
        for (const s of change.segments) next.ledger.set(s.id, { ...s, version: next.version });
        this.#rows.set(stream, next);
      },
      rollback: async () => {
        if (!ended) end();
      },
    };
  }

  async read(stream: string, knownVersion?: number): Promise<StoredStream | null> {
    this.#open();
    const row = this.#rows.get(stream);
    return row ? { version: row.version, header: row.header, slots: knownVersion === row.version ? null : new Map(row.slots) } : null;
  }

  async streams(): Promise<string[]> {
    return [...this.#rows.keys()].sort();
  }

  async segments(stream: string, page: { afterSeq?: number; limit?: number } = {}): Promise<LedgerEntry[]> {
    const entries = [...(this.#rows.get(stream)?.ledger.values() ?? [])].filter((e) => e.seq > (page.afterSeq ?? -1)).sort((a, b) => a.seq - b.seq);
    return entries.slice(0, page.limit ?? entries.length);
  }

  async delete(stream: string): Promise<boolean> {
    const release = await this.#locks.acquire(stream);
    try {
      return this.#rows.delete(stream);
    } finally {
      release();
    }
  }

  async stateBytes(stream: string): Promise<number> {
    const row = this.#rows.get(stream);
    return row ? row.header.byteLength + [...row.slots.values()].reduce((n, b) => n + b.byteLength, 0) : 0;
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #open(): void {
    if (this.#closed) throw new EvomemError('DISPOSED', 'This MemoryStateStore was closed.');
  }
}
