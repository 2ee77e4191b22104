import { crc32 } from 'node:zlib';
import { EvomemError } from '../errors.js';
import { MemoryQueue, type LatentMeta } from './MemoryQueue.js';
import type { Segment } from './segments.js';

/** A stored row of the queue: ring slot `seq % capacity` holds the latent of segment `seq`. */
export interface StoredSlot {
  slot: number;
  bytes: Uint8Array;
}

/**
 * Version 1: the header's floats are the summary of evicted latents. Version 2 adds, after
 * it, the own embeddings of the tail's segments (context `mix`), `tailEmbeddings` of them;
 * a state without them is still written as version 1, which every evomem reads.
 */
interface HeaderJson {
  format: 'evomem-stream-state';
  version: 1 | 2;
  model: string;
  dimensions: number;
  /** null: unbounded. */
  capacity: number | null;
  turns: number;
  lastTimestamp: string | null;
  tail: Segment[];
  /** Version 2 only. */
  tailEmbeddings?: number;
}

interface SlotJson extends LatentMeta {
  seq: number;
}

const HEADER_MAGIC = 0x45564853; // "EVHS"
const SLOT_MAGIC = 0x45565353; // "EVSS"

/**
 * The whole memory of one stream, bounded: the memory queue (capacity x dimensions
 * latents and the running mean of what it evicted), the session tail that context reads
 * (with its own embeddings under context `mix`), the number of segments ingested and the
 * last timestamp. Its size does not grow with the number of turns; ids, texts and vectors
 * live in the stores made for them.
 *
 * Stores keep it as one small header row and one row per queue slot, so an ingest of n
 * turns writes n + 1 rows, not the whole queue. Every row carries a CRC-32, so a damaged
 * row is an error naming the stream, never a silently altered embedding.
 */
export class StreamState {
  readonly model: string;
  readonly queue: MemoryQueue;
  /** The last segments, oldest first: what context needs from before the next ingest. */
  tail: Segment[];
  /**
   * The own (static) embeddings of the tail's segments, in its order, kept by context `mix`
   * so the next ingest need not embed them again; empty when not kept.
   */
  tailEmbeddings: Float32Array[] = [];
  /** Segments ingested so far; the next one gets this sequence number. */
  turns: number;
  lastTimestamp: string | null;

  private constructor(model: string, queue: MemoryQueue, tail: Segment[], turns: number, lastTimestamp: string | null) {
    this.model = model;
    this.queue = queue;
    this.tail = tail;
    this.turns = turns;
    this.lastTimestamp = lastTimestamp;
  }

  static empty(init: { model: string; dimensions: number; capacity: number }): StreamState {
    return new StreamState(init.model, new MemoryQueue({ dimensions: init.dimensions, capacity: init.capacity }), [], 0, null);
  }

  /** A state from its parts (a converted legacy file); the queue must hold the last segments. */
  static from(init: { model: string; queue: MemoryQueue; tail: Segment[]; turns: number; lastTimestamp: string | null }): StreamState {
    return new StreamState(init.model, init.queue, init.tail, init.turns, init.lastTimestamp);
  }

  /** An independent copy (the queue's buffer included). */
  clone(): StreamState {
    const copy = new StreamState(this.model, this.queue.clone(), [...this.tail], this.turns, this.lastTimestamp);
    copy.tailEmbeddings = [...this.tailEmbeddings];
    return copy;
  }

  /** The header's counters without the slots: segments ingested, model, dimensions, capacity. */
  static peek(source: string, header: Uint8Array): { turns: number; model: string; dimensions: number; capacity: number } {
    const fail = () => new EvomemError('STATE_INVALID', `Stream state ${source} has a damaged header.`);
    const json = parseJson<HeaderJson>(unframe(HEADER_MAGIC, header, fail).json, fail);
    return { turns: json.turns, model: json.model, dimensions: json.dimensions, capacity: json.capacity ?? Infinity };
  }

  get dimensions(): number {
    return this.queue.dimensions;
  }

  /** The ring slot of segment `seq`. */
  slotOf(seq: number): number {
    return this.queue.capacity === Infinity ? seq : seq % this.queue.capacity;
  }

  encodeHeader(): Uint8Array {
    const own = this.tailEmbeddings;
    if ((own.length > 0 && own.length !== this.tail.length) || own.some((e) => e.length !== this.dimensions)) {
      throw new EvomemError('INVALID_OPTION', `StreamState.tailEmbeddings holds ${own.length} vectors for a tail of ${this.tail.length} segments; it takes none, or one ${this.dimensions}-d vector per tail segment.`);
    }
    const json: HeaderJson = {
      format: 'evomem-stream-state',
      version: own.length > 0 ? 2 : 1,
      model: this.model,
      dimensions: this.dimensions,
      capacity: this.queue.capacity === Infinity ? null : this.queue.capacity,
      turns: this.turns,
      lastTimestamp: this.lastTimestamp,
      tail: this.tail,
      ...(own.length > 0 ? { tailEmbeddings: own.length } : {}),
    };
    const floats = new Float32Array((1 + own.length) * this.dimensions);
    floats.set(this.queue.evictedSummary);
    own.forEach((e, i) => floats.set(e, (1 + i) * this.dimensions));
    return frame(HEADER_MAGIC, Buffer.from(JSON.stringify(json)), floats);
  }

  /** The slot rows written by the segments from `fromSeq` on (an ingest's changes). */
  encodeSlots(fromSeq: number): StoredSlot[] {
    const out: StoredSlot[] = [];
    let seq = this.turns - this.queue.size;
    for (const { vector, meta } of this.queue.entries()) {
      if (seq >= fromSeq) out.push({ slot: this.slotOf(seq), bytes: frame(SLOT_MAGIC, Buffer.from(JSON.stringify({ ...meta, seq } satisfies SlotJson)), vector) });
      seq++;
    }
    return out;
  }

  /**
   * Rebuilds a state from its stored rows, checking every row: its checksum, its place in
   * the ring, the model and the dimensions. `source` names the stream in errors.
   */
  static decode(source: string, header: Uint8Array, slots: ReadonlyMap<number, Uint8Array>, expect?: { model: string; dimensions: number }): StreamState {
    const fail = (why: string) =>
      new EvomemError('STATE_INVALID', `Stream state ${source} ${why}. It was left as it is; restore the store from a backup, or delete the stream to start it anew.`);
    const head = unframe(HEADER_MAGIC, header, () => fail('has a damaged header'));
    const json = parseJson<HeaderJson>(head.json, () => fail('has a damaged header'));
    if (json.format !== 'evomem-stream-state' || (json.version !== 1 && json.version !== 2)) throw fail(`has format ${json.format} v${json.version}; this evomem reads evomem-stream-state v1 and v2`);
    if (expect && json.dimensions !== expect.dimensions) throw fail(`holds ${json.dimensions}-d latents, but the encoder gives ${expect.dimensions}-d vectors (another model?)`);
    if (expect && json.model !== expect.model) throw fail(`was written with model ${json.model}, not ${expect.model}`);
    const wellFormed = Number.isSafeInteger(json.turns) && json.turns >= 0 && Array.isArray(json.tail) && Number.isSafeInteger(json.dimensions) && json.dimensions >= 1;
    if (!wellFormed || !(json.capacity === null || (Number.isSafeInteger(json.capacity) && json.capacity >= 1))) throw fail('has a damaged header');
    const own = json.version === 2 ? json.tailEmbeddings : 0;
    if (typeof own !== 'number' || (own !== 0 && own !== json.tail.length)) throw fail('has a damaged header');
    if (head.floats.length !== (1 + own) * json.dimensions) throw fail('has a summary of the wrong length');
    const capacity = json.capacity ?? Infinity;
    const state = new StreamState(json.model, new MemoryQueue({ dimensions: json.dimensions, capacity }), json.tail, json.turns, json.lastTimestamp);
    state.tailEmbeddings = Array.from({ length: own }, (_, i) => head.floats.slice((1 + i) * json.dimensions, (2 + i) * json.dimensions));
    const size = Math.min(json.turns, capacity);
    const entries: { vector: Float32Array; meta: LatentMeta }[] = [];
    for (let seq = json.turns - size; seq < json.turns; seq++) {
      const slot = state.slotOf(seq);
      const bytes = slots.get(slot);
      if (!bytes) throw fail(`lacks queue slot ${slot} (segment ${seq})`);
      const row = unframe(SLOT_MAGIC, bytes, () => fail(`has a damaged queue slot ${slot}`));
      const { seq: stored, ...meta } = parseJson<SlotJson>(row.json, () => fail(`has a damaged queue slot ${slot}`));
      if (stored !== seq) throw fail(`holds segment ${stored} in queue slot ${slot}, where segment ${seq} belongs (a torn write?)`);
      if (row.floats.length !== json.dimensions) throw fail(`has a queue slot ${slot} of the wrong length`);
      entries.push({ vector: row.floats, meta });
    }
    state.queue.restore(entries, head.floats.subarray(0, json.dimensions), json.turns - size);
    return state;
  }
}

/** [magic u32][json length u32][json][float32s][crc32 of all before] */
function frame(magic: number, json: Buffer, floats: Float32Array): Uint8Array {
  const out = Buffer.allocUnsafe(8 + json.length + floats.byteLength + 4);
  out.writeUInt32LE(magic, 0);
  out.writeUInt32LE(json.length, 4);
  json.copy(out, 8);
  Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).copy(out, 8 + json.length);
  out.writeUInt32LE(crc32(out.subarray(0, out.length - 4)), out.length - 4);
  return out;
}

function unframe(magic: number, bytes: Uint8Array, fail: () => Error): { json: string; floats: Float32Array } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 || buf.readUInt32LE(0) !== magic) throw fail();
  if (crc32(buf.subarray(0, buf.length - 4)) !== buf.readUInt32LE(buf.length - 4)) throw fail();
  const jsonLength = buf.readUInt32LE(4);
  const floatBytes = buf.length - 12 - jsonLength;
  if (floatBytes < 0 || floatBytes % 4 !== 0) throw fail();
  const floats = new Float32Array(floatBytes / 4);
  Buffer.from(floats.buffer).set(buf.subarray(8 + jsonLength, 8 + jsonLength + floatBytes));
  return { json: buf.toString('utf8', 8, 8 + jsonLength), floats };
}

function parseJson<T>(text: string, fail: () => Error): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw fail();
  }
}
