import type { Encoder } from '../encoder/Encoder.js';
import { normalizeInPlace } from '../encoder/pooling.js';
import { EvomemError } from '../errors.js';
import { checkOptions, is } from '../util/options.js';
import { checkContextOptions, DEFAULT_CONTEXT, mixWithContext, ownText, textWithContext, type ContextOptions } from './context.js';
import { EvolvingMemory, type EvolvingMemoryOptions } from './EvolvingMemory.js';
import { capacityRule } from './MemoryQueue.js';
import type { MemoryStream } from './MemoryStream.js';
import { checkEvolvingWeights, defaultEvolvingWeights, mixReadOut, readOutTrace, type EvolvingWeights, type ReadOutTrace } from './readOut.js';
import { checkSegments, type Segment } from './segments.js';
import { isEarlier } from '../util/dates.js';
import { describeValue } from '../util/options.js';
import { StreamState } from './StreamState.js';

export { ownText, type ContextOptions } from './context.js';

export interface EvolvingOptions {
  /**
   * (a) Context: each turn's embedding takes in the preceding turns of its session (see
   * `ContextOptions.combine` for how). `false` turns it off.
   * @default { turns: 2, combine: 'mix', weight: 0.5 }
   */
  context?: ContextOptions | false;
  /** (b) Latent read-out: attention of each turn over the memory queue, mixed in by a gate. @default true */
  latent?: boolean;
  /** Memory queue capacity of new streams (EvoEmbedding's 512); a stream keeps the capacity it was made with. `Infinity` makes the state grow with every turn. @default 512 */
  capacity?: number;
  /** Read-out parameters; when omitted, those of the encoder's adapter if it was trained with the evolving encoder, else `defaultEvolvingWeights`. */
  weights?: EvolvingWeights;
  /** Also read queries out against the memory (biases them towards recent turns). @default false */
  queryReadout?: boolean;
  /** Called on accepted-but-suspect input (out-of-order timestamps). @default process.emitWarning */
  onWarning?: (message: string) => void;
}

const EVOLVING_SPEC = {
  context: is.anyOf(is.oneOf(false), is.object),
  latent: is.boolean,
  capacity: capacityRule,
  weights: is.object,
  queryReadout: is.boolean,
  onWarning: is.function,
};

/**
 * Checks evolving options (`where` names the caller in errors): every key known, `context`
 * false or context options, `weights` valid evolving weights. Returns them with a checked
 * copy of the weights.
 */
export function checkEvolvingOptions<T extends EvolvingOptions>(where: string, options: T | undefined): T {
  const checked = checkOptions<EvolvingOptions>(where, options, EVOLVING_SPEC) as T;
  if (checked.context) checkContextOptions(where, checked.context);
  return checked.weights ? { ...checked, weights: checkEvolvingWeights(checked.weights, `${where}: option 'weights'`, undefined, { code: 'INVALID_OPTION' }) } : checked;
}

/** What the evolving encoder needs of an encoder: `Encoder` has it all. */
export type SegmentEncoder = Pick<Encoder, 'modelId' | 'dimensions' | 'maxLength' | 'countTokens' | 'embedDocuments' | 'embedQuery' | 'adapter'>;

/** An ingest's embeddings, and what each was made of (see `EvolvingEncoder.advance`). */
export interface AdvanceResult {
  embeddings: Float32Array[];
  /** The turn's embedding with its context, before the read-out. */
  bases: Float32Array[];
  /** Its read-out: null when the queue was empty or the latent read-out is off. */
  traces: (ReadOutTrace | null)[];
}

/**
 * EvoEmbedding's mechanism around a frozen sentence encoder: conversations are encoded in
 * order, and each turn's embedding is conditioned on the memory as it stood at that turn,
 * (a) through the preceding turns of its session, mixed in from their embeddings (or given
 * to the encoder as text: `ContextOptions.combine`), and (b) through attention
 * over a bounded memory queue of past turn latents, mixed in by a gate. One
 * `EvolvingEncoder` serves many streams (one per user or conversation); their state lives
 * in an `EvolvingMemory` and its store.
 *
 * @example
 * const evolving = new EvolvingEncoder(await Encoder.load());
 * const stream = evolving.stream('maya'); // in memory; see EvolvingMemory for durable streams
 * const [vector] = await stream.ingest([{ id: 'D1:1', speaker: 'Maya', text: 'My sister got the nurse job!' }]);
 */
export class EvolvingEncoder {
  readonly encoder: SegmentEncoder;
  readonly options: EvolvingOptions;
  readonly weights: EvolvingWeights;

  constructor(encoder: SegmentEncoder, options: EvolvingOptions = {}) {
    const checked = checkEvolvingOptions('new EvolvingEncoder', options);
    this.encoder = encoder;
    this.options = options;
    this.weights = checked.weights ?? encoder.adapter?.evolving ?? defaultEvolvingWeights(encoder.dimensions);
    if (this.weights.dimensions !== encoder.dimensions) {
      throw new EvomemError('INVALID_OPTION', `The evolving weights are ${this.weights.dimensions}-d; the encoder gives ${encoder.dimensions}-d vectors.`);
    }
  }

  /** Segments of context each turn reads from before it: what a stream keeps as its tail. */
  get contextTurns(): number {
    return this.options.context === false ? 0 : (this.options.context?.turns ?? DEFAULT_CONTEXT.turns);
  }

  /** How context reaches a turn's embedding: `ContextOptions.combine`, null without context. */
  get combine(): NonNullable<ContextOptions['combine']> | null {
    return this.options.context === false ? null : (this.options.context?.combine ?? DEFAULT_CONTEXT.combine);
  }

  /** A new, empty state for a stream of this encoder. */
  emptyState(): StreamState {
    return StreamState.empty({ model: this.encoder.modelId, dimensions: this.encoder.dimensions, capacity: this.options.capacity ?? 512 });
  }

  /** A new stream held in process memory. For streams that outlive the process, use `EvolvingMemory` with a store. */
  stream(id: string, options: Omit<EvolvingMemoryOptions, 'store'> = {}): MemoryStream {
    return new EvolvingMemory(this, options).stream(id);
  }

  /**
   * Ingests checked segments into `state`, in order, and returns their embeddings: the
   * step every stream takes. It changes `state` (queue, tail, counters); callers that may
   * abandon the step work on a state they can drop.
   */
  async advance(state: StreamState, segments: readonly Segment[], stream: string): Promise<AdvanceResult> {
    if (!(state instanceof StreamState)) throw new EvomemError('INVALID_OPTION', `EvolvingEncoder.advance takes a StreamState (emptyState(), or one an EvolvingMemory committed), got ${describeValue(state)}.`);
    if (typeof stream !== 'string') throw new EvomemError('INVALID_OPTION', `EvolvingEncoder.advance takes the stream's id (a string) third, got ${describeValue(stream)}.`);
    checkSegments(segments, stream);
    const { options, weights } = this;
    const warn = options.onWarning ?? ((m: string) => process.emitWarning(m, { code: 'EVOMEM_SEGMENT_ORDER' }));
    let last = state.lastTimestamp;
    for (const s of segments) {
      // Compared as times, not as text: "1:56 pm on 8 May, 2023" and "+02:00" offsets order right.
      if (s.timestamp && last && isEarlier(s.timestamp, last)) warn(`Segment ${s.id} of stream ${stream} is dated ${s.timestamp}, before ${last}; it is taken in arrival order.`);
      if (s.timestamp) last = s.timestamp;
    }

    // (a) Context. Every turn's text is known, so the whole batch is embedded in one call
    // per pass (segment batching); the encoder's scheduler cuts it into length-sorted batches.
    const history = [...state.tail, ...segments];
    const base = this.combine === 'mix' ? await this.#mixed(state, history) : await this.#fromText(history, state.tail.length);
    if (this.combine !== 'mix') state.tailEmbeddings = [];

    // (b) Latent read-out, in order: each turn reads the queue as it stood before it.
    const traces: (ReadOutTrace | null)[] = [];
    const embeddings = base.map((e, i) => {
      const s = segments[i]!;
      const trace = options.latent === false ? null : readOutTrace(state.queue, e, weights.temperature);
      traces.push(trace);
      state.queue.push(e, { segmentId: s.id, ...(s.speaker ? { speaker: s.speaker } : {}), ...(s.session ? { session: s.session } : {}), ...(s.timestamp ? { timestamp: s.timestamp } : {}) });
      return mixReadOut(e, trace, weights);
    });
    state.turns += segments.length;
    state.tail = this.contextTurns > 0 ? history.slice(-this.contextTurns) : [];
    state.lastTimestamp = last;
    return { embeddings, bases: base, traces };
  }

  /** A query embedded against a stream's memory (`queryReadout`), or plainly. */
  async embedQuery(text: string, state?: StreamState): Promise<Float32Array> {
    const q = await this.encoder.embedQuery(text);
    return this.options.queryReadout && state ? mixReadOut(q, readOutTrace(state.queue, q, this.weights.temperature), this.weights) : q;
  }

  /**
   * `mix`: one pass over the turns' own texts; each base mixes in the own embeddings of the
   * turns before it, the tail's taken from the state (embedded now if the state was written
   * without them: by another mode, or an older evomem). Leaves the last own embeddings in
   * the state for the next ingest.
   */
  async #mixed(state: StreamState, history: readonly Segment[]): Promise<Float32Array[]> {
    const { tail } = state;
    const known = state.tailEmbeddings.length === tail.length ? state.tailEmbeddings : await this.encoder.embedDocuments(tail.map(ownText));
    const own = [...known, ...(await this.encoder.embedDocuments(history.slice(tail.length).map(ownText)))];
    const { weight = DEFAULT_CONTEXT.weight } = this.options.context || {};
    const base = own.slice(tail.length).map((_, i) => mixWithContext(history, own, tail.length + i, this.contextTurns, weight));
    state.tailEmbeddings = this.contextTurns > 0 ? own.slice(-this.contextTurns) : [];
    return base;
  }

  /** `concat` and `sum` (and no context): the turns embedded with their context as text. */
  async #fromText(history: readonly Segment[], offset: number): Promise<Float32Array[]> {
    const { encoder, options } = this;
    const context = options.context;
    const texts = history.slice(offset).map((s, i) => {
      if (context === false) return ownText(s);
      const budget = Math.min(context?.maxTokens ?? DEFAULT_CONTEXT.maxTokens, encoder.maxLength - encoder.countTokens(ownText(s)));
      return textWithContext(history, offset + i, this.contextTurns, budget, (t) => encoder.countTokens(t));
    });
    const base = await encoder.embedDocuments(texts);
    if (this.combine === 'sum') {
      const own = await encoder.embedDocuments(history.slice(offset).map(ownText));
      base.forEach((e, i) => {
        for (let d = 0; d < e.length; d++) e[d]! += own[i]![d]!;
        normalizeInPlace(e);
      });
    }
    return base;
  }
}
