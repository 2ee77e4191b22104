import { Encoder, type EncoderOptions } from '../encoder/Encoder.js';
import { EvomemError } from '../errors.js';
import { checkEvolvingOptions, EvolvingEncoder, type EvolvingOptions } from '../memory/EvolvingEncoder.js';
import type { MemoryStream } from '../memory/MemoryStream.js';
import type { Segment } from '../memory/segments.js';
import { Bm25Index, type Bm25Options } from './Bm25Index.js';
import { rankByScore, reciprocalRankFusion, zScoreFusion } from './fusion.js';
import { checkOptions, describeValue, is, type OptionRule } from '../util/options.js';
import { dot } from '../util/vector.js';
import { parseTime } from '../util/dates.js';
import { DEFAULT_FUSION } from './defaultFusion.js';
import { checkFusionWeights, fuseSignals, PARTS_SPEC, RetrievalPipeline, type FusionWeights, type PipelineParts, type SignalColumns } from './pipeline.js';

/** How a `SearchIndex` scores texts against a query. */
export type SearchMode = 'pipeline' | 'dense' | 'bm25' | 'hybrid';

export interface SearchIndexOptions {
  /** The encoder for `dense` and `hybrid`; `bm25` needs none. */
  encoder?: Encoder;
  /**
   * Evolving backend: texts are ingested in order into an in-memory stream, and their
   * context-aware embeddings replace the static ones (still fused with BM25 in `hybrid`).
   */
  evolving?: EvolvingEncoder;
  /**
   * `pipeline`: BM25 and embeddings with the conversation's signals (neighbours, sessions,
   * speakers, dates), fused with learned weights, the recommended retrieval (`pnpm bench:retrieval`);
   * `dense`: cosine of embeddings; `bm25`: lexical; `hybrid`: BM25 and dense, z-scored and summed.
   * @default 'pipeline'
   */
  mode?: SearchMode;
  /** The pipeline's parts, each on unless set to false. @default all on */
  parts?: PipelineParts;
  /**
   * The pipeline's fusion weights. @default the encoder adapter's (`evomem train`), else
   * `DEFAULT_FUSION` for the backend (static or evolving)
   */
  fusionWeights?: FusionWeights;
  /** How `hybrid` fuses: z-scored score sum (`zscore`) or reciprocal rank fusion (`rrf`). @default 'zscore' */
  fusion?: 'zscore' | 'rrf';
  /** Weights of [bm25, dense] in the fusion. @default [1, 1] */
  weights?: [number, number];
  /** Reciprocal rank fusion constant. @default 60 */
  rrfK?: number;
  bm25?: Bm25Options;
}

const encoderRule: OptionRule = {
  expect: 'an Encoder (await Encoder.load())',
  test: (v) => typeof v === 'object' && v !== null && typeof (v as Encoder).embedDocuments === 'function' && typeof (v as Encoder).embedQuery === 'function',
};
/** Weights of [bm25, dense] in a fusion. */
export const fusionWeightsRule: OptionRule = {
  expect: 'two finite numbers >= 0, [bm25, dense]',
  test: (v) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x) && x >= 0),
};
const SEARCH_SPEC = {
  mode: is.oneOf('pipeline', 'dense', 'bm25', 'hybrid'),
  parts: is.object,
  fusionWeights: is.object,
  fusion: is.oneOf('zscore', 'rrf'),
  weights: fusionWeightsRule,
  rrfK: is.number(0),
  bm25: is.object,
};
const INDEX_SPEC = { ...SEARCH_SPEC, encoder: encoderRule, evolving: is.instance(EvolvingEncoder) };
const OPEN_SPEC = { ...SEARCH_SPEC, encoder: is.object, encoderInstance: encoderRule, backend: is.oneOf('static', 'evolving'), evolving: is.object };

export interface SearchHit {
  /** Position of the text in the order it was added. */
  index: number;
  score: number;
}

/**
 * An in-memory index of texts for retrieval: documents are embedded with the encoder's
 * document prompt, queries with its query prompt. Adapters (LlamaIndex, LangChain) and the
 * eval retrievers search through it.
 *
 * @example
 * const index = new SearchIndex({ encoder: await Encoder.load() });
 * await index.add(['Maya signed up for pottery.', 'Theo adopted a greyhound.']);
 * const [best] = await index.search('What dog did Theo get?', 1);
 */
export class SearchIndex {
  readonly #encoder: Pick<Encoder, 'embedDocuments' | 'embedQuery' | 'adapter'> | undefined;
  readonly #options: SearchIndexOptions;
  readonly #texts: string[] = [];
  readonly #meta: Partial<Omit<Segment, 'text'>>[] = [];
  readonly #vectors: Float32Array[] = [];
  readonly #stream: MemoryStream | undefined;
  #bm25: Bm25Index | undefined;
  #pipeline: RetrievalPipeline | undefined;

  constructor(options: SearchIndexOptions = {}) {
    checkOptions('new SearchIndex', options, INDEX_SPEC);
    if (options.parts) checkOptions('new SearchIndex parts', options.parts, PARTS_SPEC);
    if (options.fusionWeights) checkFusionWeights('new SearchIndex fusionWeights', options.fusionWeights);
    this.#encoder = options.encoder ?? options.evolving?.encoder;
    this.#options = options;
    this.#stream = options.evolving?.stream('search-index');
    if (this.mode !== 'bm25' && !this.#encoder) {
      throw new EvomemError('INVALID_OPTION', `SearchIndex mode '${this.mode}' embeds texts: pass an encoder (new SearchIndex({ encoder, mode })), or use mode 'bm25'.`);
    }
  }

  get mode(): SearchMode {
    return this.#options.mode ?? 'pipeline';
  }

  /** The pipeline's fusion weights: given, the adapter's, or the default for the backend. */
  get fusionWeights(): FusionWeights {
    const backend = this.#stream ? 'evolving' : 'static';
    return this.#options.fusionWeights ?? this.#encoder?.adapter?.fusion?.[backend] ?? DEFAULT_FUSION[backend];
  }

  get size(): number {
    return this.#texts.length;
  }

  /**
   * Adds texts; returns their positions. With the evolving backend they are ingested in
   * this order, with the speaker, session and timestamp of `meta` when given.
   */
  async add(texts: readonly string[], meta: readonly Partial<Omit<Segment, 'text'>>[] = []): Promise<number[]> {
    const start = this.#texts.length;
    if (this.#stream && this.mode !== 'bm25') {
      // A stream refuses blank turns; a placeholder keeps every text rankable (BM25 still reads the text as given).
      // A timestamp that is not a date (a scene label) is no date to the pipeline; the stream would refuse it.
      this.#vectors.push(
        ...(await this.#stream.ingest(
          texts.map((text, i) => {
            const { timestamp, ...rest } = meta[i] ?? {};
            return { ...rest, ...(timestamp !== undefined && parseTime(timestamp) ? { timestamp } : {}), id: meta[i]?.id ?? `#${start + i}`, text: text.trim() === '' ? '(empty)' : text };
          }),
        )),
      );
    } else if (this.mode !== 'bm25') this.#vectors.push(...(await this.#encoder!.embedDocuments(texts)));
    this.#texts.push(...texts);
    texts.forEach((_, i) => this.#meta.push(meta[i] ?? {}));
    this.#bm25 = undefined;
    this.#pipeline = undefined;
    return texts.map((_, i) => start + i);
  }

  /** One score per indexed text, in insertion order (higher is better). */
  async scores(query: string): Promise<Float64Array> {
    const lexical = () => (this.#bm25 ??= new Bm25Index(this.#texts, this.#options.bm25)).scores(query);
    if (this.mode === 'bm25') return lexical();
    if (this.mode === 'pipeline') return fuseSignals(await this.signals(query), this.fusionWeights, this.size);
    const dense = await this.#denseScores(query);
    if (this.mode === 'dense') return dense;
    const lists = [lexical(), dense];
    return this.#options.fusion === 'rrf'
      ? reciprocalRankFusion(lists, { k: this.#options.rrfK ?? 60, ...(this.#options.weights ? { weights: this.#options.weights } : {}) })
      : zScoreFusion(lists, this.#options.weights);
  }

  /** The pipeline's signal columns for `query` (what `trainFusion` learns from). */
  async signals(query: string): Promise<SignalColumns> {
    this.#pipeline ??= new RetrievalPipeline(
      this.#texts.map((text, i) => ({ text, ...this.#meta[i] })),
      { ...(this.#options.parts ? { parts: this.#options.parts } : {}), ...(this.#options.bm25 ? { bm25: this.#options.bm25 } : {}) },
    );
    // A bm25 index embeds nothing: its pipeline runs on the lexical signals alone.
    return this.#pipeline.signals(query, this.mode === 'bm25' ? undefined : await this.#denseScores(query));
  }

  async #denseScores(query: string): Promise<Float64Array> {
    const q = this.#stream ? await this.#stream.embedQuery(query) : await this.#encoder!.embedQuery(query);
    return Float64Array.from(this.#vectors, (v) => dot(v, q));
  }

  /** The `k` best texts for `query`, best first. */
  async search(query: string, k: number): Promise<SearchHit[]> {
    if (typeof query !== 'string') throw new EvomemError('INVALID_OPTION', `SearchIndex.search: the query must be a string, got ${describeValue(query)}.`);
    if (!Number.isInteger(k) || k < 0) throw new EvomemError('INVALID_OPTION', `SearchIndex.search: k (how many hits) must be an integer >= 0, got ${describeValue(k)}.`);
    const scores = await this.scores(query);
    return rankByScore(scores)
      .slice(0, k)
      .map((index) => ({ index, score: scores[index]! }));
  }
}

/** What adapters pass to open an index: encoder settings or instance, static or evolving backend, search settings. */
export interface OpenSearchIndexOptions extends Omit<SearchIndexOptions, 'encoder' | 'evolving'> {
  /** Encoder settings (`model`, `device`, ...). @default the offline default model */
  encoder?: EncoderOptions;
  /** An encoder already loaded, shared instead of loading another. */
  encoderInstance?: Encoder;
  /**
   * `static`: each text embedded alone. `evolving`: texts are ingested in the order added as
   * a conversation, each embedding conditioned on the turns before it.
   * @default 'static'
   */
  backend?: 'static' | 'evolving';
  /** Options of the evolving backend. */
  evolving?: EvolvingOptions;
}

/** Opens a `SearchIndex`, loading the encoder only when the mode embeds. */
export async function openSearchIndex(options: OpenSearchIndexOptions = {}): Promise<SearchIndex> {
  checkOptions('openSearchIndex', options, OPEN_SPEC);
  if (options.evolving) checkEvolvingOptions('openSearchIndex evolving', options.evolving);
  const { encoder, encoderInstance, backend, evolving, ...search } = options;
  const needsEncoder = (search.mode ?? 'pipeline') !== 'bm25';
  const enc = encoderInstance ?? (needsEncoder ? await Encoder.load(encoder) : undefined);
  if (enc && backend === 'evolving') return new SearchIndex({ ...search, evolving: new EvolvingEncoder(enc, evolving) });
  return new SearchIndex({ ...search, ...(enc ? { encoder: enc } : {}) });
}

/** Segment metadata (`speaker`, `session`, `timestamp`) read from a host document's metadata. */
export function segmentMeta(id: string, metadata: Record<string, unknown>): Partial<Omit<Segment, 'text'>> & { id: string } {
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
  const speaker = str(metadata.speaker);
  const session = str(metadata.session);
  const timestamp = hostTimestamp(metadata.timestamp);
  return { id, ...(speaker ? { speaker } : {}), ...(session ? { session } : {}), ...(timestamp ? { timestamp } : {}) };
}

/**
 * Hosts keep times as date strings, epoch numbers or Date objects; segments take a date
 * string (`TIME_FORMATS`). Epoch numbers under 1e11 are seconds (1e11 ms is 1973), others
 * milliseconds. A value that is no date is left out: host metadata is the host's, and a
 * segment without a time only skips the out-of-order check.
 */
function hostTimestamp(value: unknown): string | undefined {
  if (typeof value === 'string') return parseTime(value) === undefined ? undefined : value;
  const time = typeof value === 'number' ? (Math.abs(value) < 1e11 ? value * 1000 : value) : value instanceof Date ? value.getTime() : Number.NaN;
  return Number.isFinite(time) && Math.abs(time) <= 8.64e15 ? new Date(time).toISOString() : undefined;
}
