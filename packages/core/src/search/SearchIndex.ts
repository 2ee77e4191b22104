import { Encoder, type EncoderOptions } from '../encoder/Encoder.js';
import { EvomemError } from '../errors.js';
import { checkEvolvingOptions, EvolvingEncoder, type EvolvingOptions } from '../memory/EvolvingEncoder.js';
import type { MemoryStream } from '../memory/MemoryStream.js';
import type { Segment } from '../memory/segments.js';
import { Bm25Index, type Bm25Options } from '../eval/Bm25Index.js';
import { rankByScore, reciprocalRankFusion, zScoreFusion } from '../eval/fusion.js';
import { checkOptions, describeValue, is, type OptionRule } from '../util/options.js';
import { dot } from '../util/vector.js';
import { parseTime } from '../util/dates.js';

/** How a `SearchIndex` scores texts against a query. */
export type SearchMode = 'dense' | 'bm25' | 'hybrid';

export interface SearchIndexOptions {
  /** The encoder for `dense` and `hybrid`; `bm25` needs none. */
  encoder?: Encoder;
  /**
   * Evolving backend: texts are ingested in order into an in-memory stream, and their
   * context-aware embeddings replace the static ones (still fused with BM25 in `hybrid`).
   */
  evolving?: EvolvingEncoder;
  /**
   * `dense`: cosine of embeddings; `bm25`: lexical; `hybrid`: both, fused. On LoCoMo dev
   * the hybrid beat both parts (recall@10 0.621 vs 0.573 and 0.373; `pnpm bench:retrieval`).
   * @default 'hybrid'
   */
  mode?: SearchMode;
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
  mode: is.oneOf('dense', 'bm25', 'hybrid'),
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
  readonly #encoder: Pick<Encoder, 'embedDocuments' | 'embedQuery'> | undefined;
  readonly #options: SearchIndexOptions;
  readonly #texts: string[] = [];
  readonly #vectors: Float32Array[] = [];
  readonly #stream: MemoryStream | undefined;
  #bm25: Bm25Index | undefined;

  constructor(options: SearchIndexOptions = {}) {
    checkOptions('new SearchIndex', options, INDEX_SPEC);
    this.#encoder = options.encoder ?? options.evolving?.encoder;
    this.#options = options;
    this.#stream = options.evolving?.stream('search-index');
    if (this.mode !== 'bm25' && !this.#encoder) {
      throw new EvomemError('INVALID_OPTION', `SearchIndex mode '${this.mode}' embeds texts: pass an encoder (new SearchIndex({ encoder, mode })), or use mode 'bm25'.`);
    }
  }

  get mode(): SearchMode {
    return this.#options.mode ?? 'hybrid';
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
      this.#vectors.push(...(await this.#stream.ingest(texts.map((text, i) => ({ ...meta[i], id: meta[i]?.id ?? `#${start + i}`, text })))));
    } else if (this.mode !== 'bm25') this.#vectors.push(...(await this.#encoder!.embedDocuments(texts)));
    this.#texts.push(...texts);
    this.#bm25 = undefined;
    return texts.map((_, i) => start + i);
  }

  /** One score per indexed text, in insertion order (higher is better). */
  async scores(query: string): Promise<Float64Array> {
    const lexical = () => (this.#bm25 ??= new Bm25Index(this.#texts, this.#options.bm25)).scores(query);
    if (this.mode === 'bm25') return lexical();
    const dense = await this.#denseScores(query);
    if (this.mode === 'dense') return dense;
    const lists = [lexical(), dense];
    return this.#options.fusion === 'rrf'
      ? reciprocalRankFusion(lists, { k: this.#options.rrfK ?? 60, ...(this.#options.weights ? { weights: this.#options.weights } : {}) })
      : zScoreFusion(lists, this.#options.weights);
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
  const needsEncoder = (search.mode ?? 'hybrid') !== 'bm25';
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
