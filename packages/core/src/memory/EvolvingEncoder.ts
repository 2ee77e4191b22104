import { readFile, writeFile } from 'node:fs/promises';
import type { Encoder } from '../encoder/Encoder.js';
import { normalizeInPlace } from '../encoder/pooling.js';
import { EvomemError } from '../errors.js';
import { rankByScore } from '../eval/fusion.js';
import { dot } from '../util/vector.js';
import { MemoryQueue } from './MemoryQueue.js';

/** One unit of a conversation, ingested in arrival order. */
export interface Segment {
  /** Unique within a stream. */
  id: string;
  text: string;
  /** @default 'unknown' */
  speaker?: string;
  session?: string;
  /** ISO 8601. */
  timestamp?: string;
}

/**
 * The trainable parameters of the latent read-out, as written to a weights file (JSON):
 * `{"format": "evomem-evolving-weights", "version": 1, "dimensions", "temperature",
 * "gate": {"scale", "bias", "max"}, "projection": number[] | null}`. `projection` is a
 * row-major `dimensions x dimensions` matrix applied to the read-out (null: identity).
 */
export interface EvolvingWeights {
  format: 'evomem-evolving-weights';
  version: 1;
  dimensions: number;
  /** Softmax temperature of attention over the queue. */
  temperature: number;
  /** Gate g = max * sigmoid(scale * (best similarity) + bias): how much memory is mixed in. */
  gate: { scale: number; bias: number; max: number };
  projection: number[] | null;
}

export interface ContextOptions {
  /** Preceding turns of the same session given to the encoder with a turn. @default 2 */
  turns?: number;
  /** Token budget of that context; never more than leaves the turn itself untruncated. @default 64 */
  maxTokens?: number;
  /**
   * `concat`: the turn is embedded with its context as one text. `sum`: that embedding plus
   * the turn's own, so the context adds meaning without diluting what the turn itself says
   * (dates, names), which concatenation alone does (see bench/results/evolving.md).
   * @default 'sum'
   */
  combine?: 'concat' | 'sum';
}

export interface EvolvingOptions {
  /**
   * (a) Text-level context: preceding turns of the session are embedded with each turn.
   * `false` turns it off.
   * @default { turns: 2, maxTokens: 64 }
   */
  context?: ContextOptions | false;
  /** (b) Latent read-out: attention of each turn over the memory queue, mixed in by a gate. @default true */
  latent?: boolean;
  /** Memory queue capacity (EvoEmbedding's 512). @default 512 */
  capacity?: number;
  /** Read-out parameters; when omitted, those of the encoder's adapter if it was trained with the evolving encoder, else `defaultEvolvingWeights`. */
  weights?: EvolvingWeights;
  /** Also read queries out against the memory (biases them towards recent turns). @default false */
  queryReadout?: boolean;
  /** Called on accepted-but-suspect input (out-of-order timestamps). @default process.emitWarning */
  onWarning?: (message: string) => void;
}

/**
 * Training-free read-out defaults: sharp attention (temperature 0.1), and a gate that mixes
 * in memory only when a past turn is clearly related (g = 0.5 sigmoid(10 s - 5): 0.02 at
 * similarity 0.2, 0.25 at 0.5, 0.47 at 0.8). Identity projection.
 */
export function defaultEvolvingWeights(dimensions: number): EvolvingWeights {
  return { format: 'evomem-evolving-weights', version: 1, dimensions, temperature: 0.1, gate: { scale: 10, bias: -5, max: 0.5 }, projection: null };
}

/** Reads and checks an evolving weights file. */
export async function loadEvolvingWeights(path: string, dimensions?: number): Promise<EvolvingWeights> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new EvomemError('STATE_INVALID', `${path} is not a readable evolving weights file: ${(error as Error).message}`, { cause: error });
  }
  return checkEvolvingWeights(json, path, dimensions);
}

/** Checks parsed evolving weights (format, version, dimensions, projection size); `source` names them in errors. */
export function checkEvolvingWeights(json: unknown, source: string, dimensions?: number): EvolvingWeights {
  const w = json as EvolvingWeights;
  if (w?.format !== 'evomem-evolving-weights' || w.version !== 1) throw new EvomemError('STATE_INVALID', `${source} is not an evomem evolving weights file (format/version).`);
  if (dimensions !== undefined && w.dimensions !== dimensions) {
    throw new EvomemError('STATE_INVALID', `${source} holds ${w.dimensions}-d weights; the encoder gives ${dimensions}-d vectors (another model?).`);
  }
  if (w.projection !== null && w.projection.length !== w.dimensions * w.dimensions) throw new EvomemError('STATE_INVALID', `${source}: projection must hold dimensions^2 values.`);
  return w;
}

export async function saveEvolvingWeights(path: string, weights: EvolvingWeights): Promise<void> {
  await writeFile(path, JSON.stringify(weights));
}

/**
 * EvoEmbedding's mechanism around a frozen sentence encoder: conversations are encoded in
 * order, and each turn's embedding is conditioned on the memory as it stood at that turn,
 * (a) through the preceding turns given to the encoder as text, and (b) through attention
 * over a bounded memory queue of past turn latents, mixed in by a gate. One
 * `EvolvingEncoder` serves many streams (one per user or conversation).
 *
 * @example
 * const evolving = new EvolvingEncoder(await Encoder.load());
 * const stream = evolving.stream('maya');
 * await stream.ingest([{ id: 'D1:1', speaker: 'Maya', text: 'My sister got the nurse job!' }]);
 * const hits = await stream.search('What job did Maya's sister get?', 5);
 */
export class EvolvingEncoder {
  readonly encoder: Encoder;
  readonly options: EvolvingOptions;
  readonly weights: EvolvingWeights;

  constructor(encoder: Encoder, options: EvolvingOptions = {}) {
    this.encoder = encoder;
    this.options = options;
    this.weights = options.weights ?? encoder.adapter?.evolving ?? defaultEvolvingWeights(encoder.dimensions);
    if (this.weights.dimensions !== encoder.dimensions) {
      throw new EvomemError('INVALID_OPTION', `The evolving weights are ${this.weights.dimensions}-d; the encoder gives ${encoder.dimensions}-d vectors.`);
    }
  }

  /** A new, empty stream. */
  stream(id: string): MemoryStream {
    return new MemoryStream(this, id);
  }

  /** A stream restored from a file written by `MemoryStream.save`. */
  async loadStream(path: string): Promise<MemoryStream> {
    const { queue, extra } = await MemoryQueue.load(path, { dimensions: this.encoder.dimensions, model: this.encoder.modelPath });
    const state = extra as StreamState | null;
    if (!state || state.format !== 'evomem-stream') throw new EvomemError('STATE_INVALID', `${path} holds a memory queue but no stream state.`);
    return MemoryStream.restore(this, state, queue);
  }
}

interface StreamState {
  format: 'evomem-stream';
  id: string;
  segments: Segment[];
  /** All segment embeddings, float32 little-endian, concatenated, base64. */
  embeddings: string;
  lastTimestamp: string | null;
}

/**
 * The memory of one conversation or user: its queue, its recent turns, and the index of
 * every ingested segment's evolving embedding.
 */
export class MemoryStream {
  readonly id: string;
  readonly queue: MemoryQueue;
  readonly #evolving: EvolvingEncoder;
  readonly #segments: Segment[] = [];
  readonly #embeddings: Float32Array[] = [];
  readonly #ids = new Set<string>();
  #lastTimestamp: string | undefined;

  constructor(evolving: EvolvingEncoder, id: string, queue?: MemoryQueue) {
    this.#evolving = evolving;
    this.id = id;
    this.queue = queue ?? new MemoryQueue({ dimensions: evolving.encoder.dimensions, capacity: evolving.options.capacity ?? 512 });
  }

  static restore(evolving: EvolvingEncoder, state: StreamState, queue: MemoryQueue): MemoryStream {
    const stream = new MemoryStream(evolving, state.id, queue);
    const D = evolving.encoder.dimensions;
    const floats = new Float32Array(new Uint8Array(Buffer.from(state.embeddings, 'base64')).buffer);
    if (floats.length !== state.segments.length * D) {
      throw new EvomemError('STATE_INVALID', `Stream ${state.id}: ${state.segments.length} segments but ${floats.length / D} embeddings in its state file.`);
    }
    state.segments.forEach((s, i) => {
      stream.#segments.push(s);
      stream.#ids.add(s.id);
      stream.#embeddings.push(floats.slice(i * D, (i + 1) * D));
    });
    if (state.lastTimestamp) stream.#lastTimestamp = state.lastTimestamp;
    return stream;
  }

  /** Segments ingested so far, in arrival order. */
  get segments(): readonly Segment[] {
    return this.#segments;
  }

  /** Their evolving embeddings, in the same order. */
  get embeddings(): readonly Float32Array[] {
    return this.#embeddings;
  }

  /**
   * Ingests segments in arrival order and returns their embeddings. The whole batch is
   * checked first, so a bad segment changes nothing: ids must be new (no upsert: an id seen
   * before is an error, because later embeddings were conditioned on the old text) and text
   * non-blank. A timestamp earlier than the last one is accepted by arrival and warned about.
   */
  async ingest(segments: readonly Segment[]): Promise<Float32Array[]> {
    return (await this.ingestTraced(segments)).embeddings;
  }

  /**
   * `ingest`, also returning what each embedding was made of: the turn's context embedding
   * (`bases`) and its read-out (`traces`, null when the queue was empty or the latent
   * read-out is off), so that `mixReadOut(bases[i], traces[i], weights)` recomputes
   * `embeddings[i]` under other gate weights. `trainAdapter` trains the gate on these.
   */
  async ingestTraced(segments: readonly Segment[]): Promise<{ embeddings: Float32Array[]; bases: Float32Array[]; traces: (ReadOutTrace | null)[] }> {
    const seen = new Set<string>();
    for (const [i, s] of segments.entries()) {
      if (typeof s?.id !== 'string' || s.id === '') throw new EvomemError('SEGMENT_INVALID', `segments[${i}] needs a string id.`);
      if (this.#ids.has(s.id) || seen.has(s.id)) {
        throw new EvomemError('SEGMENT_INVALID', `Segment id ${JSON.stringify(s.id)} (segments[${i}]) is already in stream ${this.id}; ids are unique per stream. Give the new text a new id.`);
      }
      if (typeof s.text !== 'string' || s.text.trim() === '') throw new EvomemError('SEGMENT_INVALID', `Segment ${JSON.stringify(s.id)} (segments[${i}]) has no text; empty turns carry nothing to remember.`);
      seen.add(s.id);
    }
    const { encoder, options, weights } = this.#evolving;
    const warn = options.onWarning ?? ((m: string) => process.emitWarning(m, { code: 'EVOMEM_SEGMENT_ORDER' }));
    let last = this.#lastTimestamp;
    for (const s of segments) {
      if (s.timestamp && last && s.timestamp < last) warn(`Segment ${s.id} of stream ${this.id} is dated ${s.timestamp}, before ${last}; it is taken in arrival order.`);
      if (s.timestamp) last = s.timestamp;
    }

    // (a) Text context: every turn's text is known, so the whole batch is embedded in one
    // call (segment batching); the encoder's scheduler cuts it into length-sorted batches.
    // Context reaches back `context.turns` segments at most: only that tail is needed.
    const reach = options.context === false ? 0 : (options.context?.turns ?? 2);
    const tail = reach > 0 ? this.#segments.slice(-reach) : [];
    const history = [...tail, ...segments];
    const offset = tail.length;
    const texts = segments.map((s, i) => this.#withContext(history, offset + i));
    const base = await encoder.embedDocuments(texts);
    const context = options.context;
    if (context !== false && (context?.combine ?? 'sum') === 'sum') {
      const own = await encoder.embedDocuments(segments.map((s) => `${s.speaker ?? 'unknown'}: ${s.text}`));
      base.forEach((e, i) => {
        for (let d = 0; d < e.length; d++) e[d]! += own[i]![d]!;
        normalizeInPlace(e);
      });
    }

    // (b) Latent read-out, in order: each turn reads the queue as it stood before it.
    const traces: (ReadOutTrace | null)[] = [];
    const out = base.map((e, i) => {
      const s = segments[i]!;
      const trace = options.latent === false ? null : readOutTrace(this.queue, e, weights.temperature);
      traces.push(trace);
      this.queue.push(e, { segmentId: s.id, ...(s.speaker ? { speaker: s.speaker } : {}), ...(s.session ? { session: s.session } : {}), ...(s.timestamp ? { timestamp: s.timestamp } : {}) });
      return mixReadOut(e, trace, weights);
    });
    for (const [i, s] of segments.entries()) {
      this.#segments.push({ ...s });
      this.#ids.add(s.id);
      this.#embeddings.push(out[i]!);
    }
    if (last) this.#lastTimestamp = last;
    return { embeddings: out, bases: base, traces };
  }

  /** A query embedded against the current memory. */
  async embedQuery(text: string): Promise<Float32Array> {
    const q = await this.#evolving.encoder.embedQuery(text);
    const { options, weights } = this.#evolving;
    return options.queryReadout ? mixReadOut(q, readOutTrace(this.queue, q, weights.temperature), weights) : q;
  }

  /** Cosine of the query with every ingested segment, in arrival order. */
  async scores(query: string): Promise<Float64Array> {
    const q = await this.embedQuery(query);
    return Float64Array.from(this.#embeddings, (v) => dot(v, q));
  }

  async search(query: string, k: number): Promise<{ segment: Segment; score: number }[]> {
    const scores = await this.scores(query);
    return rankByScore(scores)
      .slice(0, k)
      .map((i) => ({ segment: this.#segments[i]!, score: scores[i]! }));
  }

  /** Writes queue, segments and embeddings atomically (see `MemoryQueue.save`). */
  async save(path: string): Promise<void> {
    const state: StreamState = {
      format: 'evomem-stream',
      id: this.id,
      segments: this.#segments,
      embeddings: Buffer.concat(this.#embeddings.map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength))).toString('base64'),
      lastTimestamp: this.#lastTimestamp ?? null,
    };
    await this.queue.save(path, { model: this.#evolving.encoder.modelPath, extra: state });
  }

  /** The turn's text with the preceding turns of its session, within the token budget. */
  #withContext(history: readonly Segment[], index: number): string {
    const s = history[index]!;
    const own = `${s.speaker ?? 'unknown'}: ${s.text}`;
    const context = this.#evolving.options.context;
    if (context === false) return own;
    const encoder = this.#evolving.encoder;
    const budget = Math.min(context?.maxTokens ?? 64, encoder.maxLength - encoder.countTokens(own));
    const parts: string[] = [];
    let used = 0;
    for (let j = index - 1; j >= 0 && parts.length < (context?.turns ?? 2); j--) {
      const prev = history[j]!;
      if (prev.session !== s.session) break;
      const line = `${prev.speaker ?? 'unknown'}: ${prev.text}`;
      const cost = encoder.countTokens(line);
      if (used + cost > budget) break;
      parts.unshift(line);
      used += cost;
    }
    return parts.length ? `${parts.join('\n')}\n${own}` : own;
  }

}

/** What the latent read-out of one turn saw in the memory queue. */
export interface ReadOutTrace {
  /** r = softmax(queue . e / T) . queue, over the queue and the summary of what it evicted. */
  readout: Float32Array;
  /** The best cosine between the turn and a memory: what the gate opens on. */
  best: number;
}

/** The read-out of `e` against the queue as it stands; null while the queue is empty. */
export function readOutTrace(queue: MemoryQueue, e: Float32Array, temperature: number): ReadOutTrace | null {
  const memories = [...queue.entries()].map((m) => m.vector);
  if (queue.evicted > 0) memories.push(queue.evictedSummary);
  if (memories.length === 0) return null;
  const sims = memories.map((m) => dot(m, e));
  const best = Math.max(...sims);
  const exps = sims.map((s) => Math.exp((s - best) / temperature));
  const total = exps.reduce((a, b) => a + b, 0);
  const D = e.length;
  const readout = new Float32Array(D);
  memories.forEach((m, j) => {
    const a = exps[j]! / total;
    for (let d = 0; d < D; d++) readout[d]! += a * m[d]!;
  });
  return { readout, best };
}

/** The gate's opening for a best similarity: max * sigmoid(scale * best + bias). */
export function gateValue(gate: EvolvingWeights['gate'], best: number): number {
  return gate.max / (1 + Math.exp(-(gate.scale * best + gate.bias)));
}

/** normalize(e + g * P r): the evolving embedding of a turn from its base and read-out. */
export function mixReadOut(e: Float32Array, trace: ReadOutTrace | null, w: EvolvingWeights): Float32Array {
  const out = Float32Array.from(e);
  if (!trace) return out;
  const D = e.length;
  const projected = w.projection ? matVec(w.projection, trace.readout, D) : trace.readout;
  const g = gateValue(w.gate, trace.best);
  for (let d = 0; d < D; d++) out[d]! += g * projected[d]!;
  normalizeInPlace(out);
  return out;
}

/** Row-major `D x D` matrix times vector. */
export function matVec(m: number[], v: Float32Array, D: number): Float32Array {
  const out = new Float32Array(D);
  for (let i = 0; i < D; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += m[i * D + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}
