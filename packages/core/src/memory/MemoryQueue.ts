import { createHash } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { EvomemError } from '../errors.js';

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

const MAGIC = 'EVOMEMQ1';
const FORMAT_VERSION = 1;

/**
 * A bounded FIFO of latent vectors with metadata: EvoEmbedding's memory queue. Appends are
 * O(1) into one preallocated buffer (a ring). Evicted entries are not simply lost: their
 * running mean is kept as a one-vector summary of everything older than the queue.
 *
 * @example
 * const queue = new MemoryQueue({ dimensions: 512, capacity: 512 });
 * queue.push(vector, { segmentId: 'D1:1', speaker: 'Maya' });
 * await queue.save('maya.evomemq');
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
    const capacity = options.capacity ?? 512;
    if (!Number.isInteger(options.dimensions) || options.dimensions < 1) {
      throw new EvomemError('INVALID_OPTION', `MemoryQueue dimensions must be a positive integer, got ${options.dimensions}.`);
    }
    if (!(capacity === Infinity || (Number.isInteger(capacity) && capacity >= 1))) {
      throw new EvomemError('INVALID_OPTION', `MemoryQueue capacity must be a positive integer or Infinity, got ${capacity}.`);
    }
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
   * Writes the queue to `path` atomically (a temp file, fsync, rename), with the model
   * name and a sha256 of the payload, so a torn or foreign file is detected on load.
   */
  async save(path: string, info: { model?: string; extra?: unknown } = {}): Promise<void> {
    const payload = Buffer.concat([Buffer.from(this.matrix().buffer), Buffer.from(this.#summary.buffer, this.#summary.byteOffset, this.#summary.byteLength)]);
    const header = Buffer.from(
      JSON.stringify({
        version: FORMAT_VERSION,
        model: info.model ?? null,
        dimensions: this.dimensions,
        capacity: this.capacity === Infinity ? null : this.capacity,
        size: this.#size,
        evicted: this.#evicted,
        meta: [...this.entries()].map((e) => e.meta),
        extra: info.extra ?? null,
        sha256: createHash('sha256').update(payload).digest('hex'),
      }),
    );
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    const tmp = `${path}.${process.pid}.tmp`;
    const file = await open(tmp, 'w');
    try {
      await file.write(Buffer.concat([Buffer.from(MAGIC, 'ascii'), length, header, payload]));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path).catch(async (error) => {
      await rm(tmp, { force: true });
      throw error;
    });
  }

  /**
   * Reads a queue written by `save`. A truncated, corrupt or foreign file, or one from
   * another model or dimension, is an error naming the file; it is never replaced by an
   * empty queue.
   */
  static async load(path: string, expect: { dimensions?: number; model?: string } = {}): Promise<{ queue: MemoryQueue; extra: unknown }> {
    const fail = (why: string, cause?: unknown) =>
      new EvomemError('STATE_INVALID', `${path}: ${why}. The file was left as it is; restore it from a backup or start a new state file.`, cause === undefined ? {} : { cause });
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (error) {
      throw fail(`cannot be read (${(error as Error).message})`, error);
    }
    if (bytes.length < 12 || bytes.toString('ascii', 0, 8) !== MAGIC) throw fail('is not an evomem memory-queue file');
    const headerLength = bytes.readUInt32LE(8);
    let header: { version: number; model: string | null; dimensions: number; capacity: number | null; size: number; evicted: number; meta: LatentMeta[]; extra: unknown; sha256: string };
    try {
      header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength));
    } catch (error) {
      throw fail('has a damaged header (truncated?)', error);
    }
    if (header.version !== FORMAT_VERSION) throw fail(`has format version ${header.version}; this evomem reads version ${FORMAT_VERSION}`);
    if (expect.dimensions !== undefined && header.dimensions !== expect.dimensions) {
      throw fail(`holds ${header.dimensions}-d latents, but the encoder gives ${expect.dimensions}-d vectors (another model?)`);
    }
    if (expect.model !== undefined && header.model !== null && header.model !== expect.model) {
      throw fail(`was written with model ${header.model}, not ${expect.model}`);
    }
    const payload = bytes.subarray(12 + headerLength);
    const expected = (header.size + 1) * header.dimensions * 4;
    if (payload.length !== expected) throw fail(`is truncated or padded: ${payload.length} payload bytes, expected ${expected}`);
    if (createHash('sha256').update(payload).digest('hex') !== header.sha256) throw fail('fails its checksum (corrupt)');
    const queue = new MemoryQueue({ dimensions: header.dimensions, capacity: header.capacity ?? Infinity });
    const floats = new Float32Array(new Uint8Array(payload).buffer);
    for (let i = 0; i < header.size; i++) queue.push(floats.subarray(i * header.dimensions, (i + 1) * header.dimensions), header.meta[i]!);
    queue.#summary.set(floats.subarray(header.size * header.dimensions));
    queue.#evicted = header.evicted;
    return { queue, extra: header.extra };
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
