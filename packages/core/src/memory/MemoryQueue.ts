import { EvomemError } from '../errors.js';
import { checkOptions, is, type OptionRule } from '../util/options.js';

/** What a queue entry remembers besides its vector. */
export interface LatentMeta {
  segmentId: string;
  speaker?: string;
  session?: string;
  /** ISO 8601. */
  timestamp?: string;
}

export interface MemoryQueueOptions {
  /** Latent vector length. */
  dimensions: number;
  /**
   * Entries kept; the oldest is evicted first. EvoEmbedding keeps 512, and without a bounded
   * queue its recurrent encoding collapsed. `Infinity` keeps everything.
   * @default 512
   */
  capacity?: number;
}

/** A queue capacity: a positive integer, or unbounded. */
export const capacityRule: OptionRule = { expect: 'a positive integer or Infinity', test: (v) => v === Infinity || (Number.isInteger(v) && (v as number) >= 1) };
const QUEUE_SPEC = { dimensions: is.int(1), capacity: capacityRule };

/**
 * A bounded FIFO of latent vectors with metadata: EvoEmbedding's memory queue. Appends are
 * O(1) into one preallocated buffer (a ring). Evicted entries are not simply lost: their
 * running mean is kept as a one-vector summary of everything older than the queue.
 *
 * @example
 * const queue = new MemoryQueue({ dimensions: 512, capacity: 512 });
 * queue.push(vector, { segmentId: 'D1:1', speaker: 'Maya' });
 * const [oldest] = queue.entries();
 */
export class MemoryQueue {
  readonly dimensions: number;
  readonly capacity: number;
  #data: Float32Array;
  #meta: LatentMeta[] = [];
  /** Ring position of the oldest entry. */
  #head = 0;
  #size = 0;
  readonly #summary: Float32Array;
  #evicted = 0;

  constructor(options: MemoryQueueOptions) {
    checkOptions('new MemoryQueue', options, QUEUE_SPEC);
    if (options?.dimensions === undefined) throw new EvomemError('INVALID_OPTION', 'new MemoryQueue needs dimensions: the latent vector length.');
    const capacity = options.capacity ?? 512;
    this.dimensions = options.dimensions;
    this.capacity = capacity;
    this.#data = new Float32Array(Math.min(capacity, 64) * options.dimensions);
    this.#summary = new Float32Array(options.dimensions);
  }

  get size(): number {
    return this.#size;
  }

  /** How many entries were evicted into the summary. */
  get evicted(): number {
    return this.#evicted;
  }

  /** Mean of every evicted latent (zeros while nothing was evicted). */
  get evictedSummary(): Float32Array {
    return this.#summary;
  }

  /** Appends a latent (copied); evicts the oldest when full. */
  push(vector: ArrayLike<number>, meta: LatentMeta): void {
    if (vector.length !== this.dimensions) {
      throw new EvomemError('INVALID_OPTION', `MemoryQueue holds ${this.dimensions}-d latents; got ${vector.length} for segment ${meta.segmentId}.`);
    }
    if (this.#size === this.capacity) {
      const oldest = this.#data.subarray(this.#head * this.dimensions, (this.#head + 1) * this.dimensions);
      this.#evicted++;
      for (let d = 0; d < this.dimensions; d++) this.#summary[d]! += (oldest[d]! - this.#summary[d]!) / this.#evicted;
      this.#data.set(vector, this.#head * this.dimensions);
      this.#meta[this.#head] = { ...meta };
      this.#head = (this.#head + 1) % this.capacity;
      return;
    }
    if ((this.#size + 1) * this.dimensions > this.#data.length) this.#grow();
    const slot = (this.#head + this.#size) % this.#slots();
    this.#data.set(vector, slot * this.dimensions);
    this.#meta[slot] = { ...meta };
    this.#size++;
  }

  /** Entries oldest first, as views (copy to keep). */
  *entries(): Generator<{ vector: Float32Array; meta: LatentMeta }> {
    const slots = this.#slots();
    for (let i = 0; i < this.#size; i++) {
      const slot = (this.#head + i) % slots;
      yield { vector: this.#data.subarray(slot * this.dimensions, (slot + 1) * this.dimensions), meta: this.#meta[slot]! };
    }
  }

  /** An independent copy: what an ingest works on, so the original stays as committed. */
  clone(): MemoryQueue {
    const copy = new MemoryQueue({ dimensions: this.dimensions, capacity: this.capacity });
    copy.#data = Float32Array.from(this.#data);
    copy.#meta = [...this.#meta];
    copy.#head = this.#head;
    copy.#size = this.#size;
    copy.#summary.set(this.#summary);
    copy.#evicted = this.#evicted;
    return copy;
  }

  /**
   * The ring itself, for tight loops over every latent without a copy: entry i (oldest
   * first) is row `(head + i) % slots` of `data`. Read only.
   */
  get ring(): { data: Float32Array; head: number; size: number; slots: number } {
    return { data: this.#data, head: this.#head, size: this.#size, slots: this.#slots() };
  }

  /** The latents oldest first as one `[size, dimensions]` matrix (a copy). */
  matrix(): Float32Array {
    const out = new Float32Array(this.#size * this.dimensions);
    let i = 0;
    for (const { vector } of this.entries()) out.set(vector, i++ * this.dimensions);
    return out;
  }

  /** Bytes of the latents and summary held (metadata not counted). */
  get byteLength(): number {
    return this.#data.byteLength + this.#summary.byteLength;
  }

  /**
   * Refills an empty queue with `entries` (oldest first), the summary of what was evicted
   * before them, and the eviction count: how a stored state comes back.
   */
  restore(entries: readonly { vector: Float32Array; meta: LatentMeta }[], summary: Float32Array, evicted: number): void {
    if (this.#size !== 0 || this.#evicted !== 0) throw new EvomemError('INVALID_OPTION', 'MemoryQueue.restore needs an empty queue.');
    if (entries.length > this.#slots()) this.#data = new Float32Array(Math.min(this.capacity, entries.length) * this.dimensions);
    for (const e of entries) this.push(e.vector, e.meta);
    this.#summary.set(summary);
    this.#evicted = evicted;
  }

  #slots(): number {
    return this.#data.length / this.dimensions;
  }

  /** Doubles the buffer (up to capacity), unrolling the ring so the oldest entry is first. */
  #grow(): void {
    const slots = Math.min(this.capacity, Math.max(1, this.#slots()) * 2);
    const next = new Float32Array(slots * this.dimensions);
    const meta: LatentMeta[] = [];
    let i = 0;
    for (const e of this.entries()) {
      next.set(e.vector, i * this.dimensions);
      meta.push(e.meta);
      i++;
    }
    this.#data = next;
    this.#meta = meta;
    this.#head = 0;
  }
}
