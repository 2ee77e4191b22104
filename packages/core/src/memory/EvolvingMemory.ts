import { EvomemError } from '../errors.js';
import { MemoryStateStore } from '../stores/memory.js';
import type { StateStore, StoredStream } from '../stores/StateStore.js';
import { duplicateIds } from '../stores/storeErrors.js';
import { KeyedMutex } from '../util/KeyedMutex.js';
import { checkOptions, describeValue, is, type OptionRule } from '../util/options.js';
import type { AdvanceResult, EvolvingEncoder } from './EvolvingEncoder.js';
import { MemoryStream } from './MemoryStream.js';
import { checkSegments, segmentRecord, type Segment } from './segments.js';
import { StreamState } from './StreamState.js';

export interface EvolvingMemoryOptions {
  /**
   * Where each stream's bounded state lives: `SqliteStateStore` (embedded),
   * `PostgresStateStore` (shared by many processes), or `MemoryStateStore`.
   * @default a new MemoryStateStore (gone when the process ends)
   */
  store?: StateStore;
  /**
   * Streams kept decoded in process between ingests, least recently used evicted first.
   * Each holds its queue (capacity x dimensions x 4 bytes: 1 MiB at 512 x 512); a stream
   * that is not cached is read back from the store (one query).
   * @default 16
   */
  cachedStreams?: number;
  /** Times an ingest is re-run after another process committed to its stream first (embedded store only). @default 8 */
  conflictRetries?: number;
}

/** An ingest's embeddings, what they were made of, and where the segments went. */
export interface IngestResult extends AdvanceResult {
  stream: string;
  /** The segments as stored. */
  segments: Segment[];
  /** Position of the first segment in the stream (0 for a stream's first). */
  firstSeq: number;
  /** The stream version this ingest commits. */
  version: number;
}

export interface IngestOptions {
  /**
   * Runs once the embeddings exist and before the state commits: write the vectors to your
   * vector store here. If it throws, nothing is committed and the error is the ingest's.
   * With the embedded store shared by several processes it may run again for the same
   * segments after a lost race, so write by segment id (upsert).
   */
  beforeCommit?: (result: IngestResult) => Promise<void>;
}

/** A state store: what `EvolvingMemory` calls of one. */
const storeRule: OptionRule = {
  expect: 'a StateStore (SqliteStateStore, PostgresStateStore, MemoryStateStore or one of yours)',
  test: (v) => typeof v === 'object' && v !== null && ['begin', 'read', 'streams', 'close'].every((m) => typeof (v as Record<string, unknown>)[m] === 'function'),
};
const MEMORY_SPEC = { store: storeRule, cachedStreams: is.int(0), conflictRetries: is.int(0) };
const INGEST_SPEC = { beforeCommit: is.function };

/**
 * Evolving memory for many streams (users or conversations) over a state store. Ingests
 * into one stream run one after another: in this process through a lock per stream, and
 * across processes through the store. An ingest is committed, all of it, when it resolves;
 * one that fails or is killed leaves no trace. Process memory holds only the cached
 * streams' bounded state, never per-turn data.
 *
 * @example
 * const memory = new EvolvingMemory(new EvolvingEncoder(await Encoder.load()), { store: await openStateStore('sqlite:./evomem.db') });
 * const { embeddings } = await memory.ingest('maya', [{ id: 'D1:1', speaker: 'Maya', text: 'My sister got the nurse job!' }]);
 * await myVectorStore.add(embeddings); // or inside `beforeCommit`, so a failed write commits nothing
 */
export class EvolvingMemory {
  readonly evolving: EvolvingEncoder;
  readonly store: StateStore;
  readonly #locks = new KeyedMutex();
  /** Committed states by stream. They are never changed: an ingest works on a copy. */
  readonly #cache = new Map<string, { version: number; header: Uint8Array; state: StreamState }>();
  readonly #cacheSize: number;
  readonly #retries: number;

  constructor(evolving: EvolvingEncoder, options: EvolvingMemoryOptions = {}) {
    checkOptions('new EvolvingMemory', options, MEMORY_SPEC);
    this.evolving = evolving;
    this.store = options.store ?? new MemoryStateStore();
    this.#cacheSize = options.cachedStreams ?? 16;
    this.#retries = options.conflictRetries ?? 8;
  }

  /** A handle on one stream. */
  stream(id: string): MemoryStream {
    return new MemoryStream(this, checkStreamId(id));
  }

  /**
   * Ingests segments into `stream` in arrival order and returns their embeddings. The batch
   * is checked whole before anything changes: ids must be new to the stream (no upsert,
   * because later embeddings were conditioned on the old text), text non-blank. A
   * timestamp earlier than the last one is accepted by arrival and warned about.
   */
  async ingest(stream: string, segments: readonly Segment[], options: IngestOptions = {}): Promise<IngestResult> {
    checkStreamId(stream);
    checkOptions('EvolvingMemory.ingest', options, INGEST_SPEC);
    checkSegments(segments, stream);
    const records = segments.map(segmentRecord);
    if (records.length === 0) {
      // Nothing to take: no commit, so an empty call never moves the stream's version.
      const stored = await this.store.read(stream, this.#cache.get(stream)?.version);
      const turns = (await this.#committed(stream, stored))?.turns ?? 0;
      return { embeddings: [], bases: [], traces: [], stream, segments: [], firstSeq: turns, version: stored?.version ?? 0 };
    }
    const release = await this.#locks.acquire(stream);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          return await this.#attempt(stream, records, options);
        } catch (error) {
          if (!(error instanceof EvomemError && error.code === 'STATE_CONFLICT' && attempt < this.#retries)) throw error;
        }
      }
    } finally {
      release();
    }
  }

  async #attempt(stream: string, segments: Segment[], options: IngestOptions): Promise<IngestResult> {
    const tx = await this.store.begin(stream, this.#cache.get(stream)?.version);
    try {
      const taken = await tx.existing(segments.map((s) => s.id));
      if (taken.length > 0) throw duplicateIds(stream, taken);
      // The ingest changes a copy; the committed state (cached, maybe read elsewhere) stays as it is.
      const state = (await this.#committed(stream, tx.current))?.clone() ?? this.evolving.emptyState();
      const firstSeq = state.turns;
      const result: IngestResult = { ...(await this.evolving.advance(state, segments, stream)), stream, segments, firstSeq, version: (tx.current?.version ?? 0) + 1 };
      await options.beforeCommit?.(result);
      const header = state.encodeHeader();
      await tx.commit({ header, slots: state.encodeSlots(firstSeq), segments: segments.map((s, i) => ({ id: s.id, seq: firstSeq + i })) });
      this.#remember(stream, result.version, header, state);
      return result;
    } finally {
      await tx.rollback().catch(() => {});
    }
  }

  /** A query embedded for searching `stream`'s memories (read out against its queue with `queryReadout`). */
  async embedQuery(text: string, stream?: string): Promise<Float32Array> {
    if (typeof text !== 'string') throw new EvomemError('INVALID_OPTION', `EvolvingMemory.embedQuery takes the query text (a string), got ${describeValue(text)}.`);
    if (stream !== undefined) checkStreamId(stream);
    return this.evolving.embedQuery(text, this.evolving.options.queryReadout && stream !== undefined ? ((await this.state(stream)) ?? undefined) : undefined);
  }

  /** The stream's state as committed, or null for a stream with none. Shared: do not change it. */
  async state(stream: string): Promise<StreamState | null> {
    return this.#committed(checkStreamId(stream), await this.store.read(stream, this.#cache.get(stream)?.version));
  }

  /**
   * The committed state of stored rows: the cached one when its version and header are the
   * stored ones (a stream deleted and made anew may reach the same version, not the same
   * header), else decoded from the slots, read again if the store skipped them.
   */
  async #committed(stream: string, stored: StoredStream | null): Promise<StreamState | null> {
    if (!stored) return null;
    const cached = this.#cache.get(stream);
    if (cached && cached.version === stored.version && Buffer.from(cached.header).equals(stored.header)) return cached.state;
    const rows = stored.slots ? stored : await this.store.read(stream);
    if (!rows?.slots) return null;
    const state = StreamState.decode(`${stream} (${this.store.kind} store)`, rows.header, rows.slots, { model: this.evolving.encoder.modelId, dimensions: this.evolving.encoder.dimensions });
    this.#remember(stream, rows.version, rows.header, state);
    return state;
  }

  #remember(stream: string, version: number, header: Uint8Array, state: StreamState): void {
    this.#cache.delete(stream);
    if (this.#cacheSize === 0) return;
    this.#cache.set(stream, { version, header, state });
    if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value!);
  }
}

function checkStreamId(id: unknown): string {
  if (typeof id !== 'string' || id === '') throw new EvomemError('INVALID_OPTION', `A stream id must be a non-empty string (a user or conversation id), got ${describeValue(id)}.`);
  return id;
}
