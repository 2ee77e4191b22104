import type { StoredSlot } from '../memory/StreamState.js';

/** A stream's committed rows: its header, and its queue slots by ring index. */
export interface StoredStream {
  /** Commits so far; 0 before the first. */
  version: number;
  header: Uint8Array;
  /** null when the caller's `knownVersion` is current: it has these rows already. */
  slots: Map<number, Uint8Array> | null;
}

/** One segment as the ledger records it: which commit took it, at which position. */
export interface LedgerEntry {
  id: string;
  /** Position in the stream, from 0. */
  seq: number;
  /** The commit (stream version) that took it. */
  version: number;
}

/** What one ingest writes: the new header, the queue slots it changed, and its segments. */
export interface StateChange {
  header: Uint8Array;
  slots: readonly StoredSlot[];
  segments: readonly { id: string; seq: number }[];
  /** Remove the stream's slots and ledger first, in the same transaction (an import over an existing stream). @default false */
  replace?: boolean;
}

/**
 * A write on one stream. It sees the stream as committed when it began; `commit` writes
 * the change in one database transaction, all of it or none of it. Server stores hold a
 * lock on the stream until it ends, so writers queue; the embedded store checks at commit
 * that nobody else committed in between, and fails with `STATE_CONFLICT` if someone did
 * (`EvolvingMemory` then runs the ingest again on the newer state).
 */
export interface StateTransaction {
  readonly current: StoredStream | null;
  /** Which of `ids` the stream already holds. */
  existing(ids: readonly string[]): Promise<string[]>;
  commit(change: StateChange): Promise<void>;
  rollback(): Promise<void>;
}

/**
 * Where streams' bounded state lives: one small contract that every store implements and
 * one contract suite (`stateStoreContract`) that every store passes. A stream holds a
 * header row, at most `capacity` queue-slot rows, and a ledger of its segment ids (so an
 * id is never taken twice, across processes too).
 *
 * @example
 * const store = await openStateStore('sqlite:./evomem.db');
 * const memory = new EvolvingMemory(new EvolvingEncoder(await Encoder.load()), { store });
 */
export interface StateStore {
  /** `memory`, `sqlite`, `postgres`, or a third party's name. */
  readonly kind: string;
  /** Opens a write on `stream`. Pass the version whose rows you hold to skip reading the slots again. */
  begin(stream: string, knownVersion?: number): Promise<StateTransaction>;
  /** The stream as committed, or null if it has none; slots are skipped when `knownVersion` is current. */
  read(stream: string, knownVersion?: number): Promise<StoredStream | null>;
  /** Every stream with state, sorted. */
  streams(): Promise<string[]>;
  /** The ledger of a stream in order, a page at a time. */
  segments(stream: string, page?: { afterSeq?: number; limit?: number }): Promise<LedgerEntry[]>;
  /** Removes a stream's state and ledger; false if there was none. */
  delete(stream: string): Promise<boolean>;
  /** Bytes a stream's state takes (header and slots, without the ledger), or 0. */
  stateBytes(stream: string): Promise<number>;
  close(): Promise<void>;
}
