import { Encoder, type EncoderOptions } from '../encoder/Encoder.js';
import { EvomemError } from '../errors.js';
import { Bm25Index, type Bm25Options } from './Bm25Index.js';
import { reciprocalRankFusion, zScoreFusion } from './fusion.js';
import type { EvalCorpus, EvalQuestion } from './types.js';

/** A searchable corpus: one score per unit for a question (higher is better). */
export interface CorpusIndex {
  scores(question: EvalQuestion): Promise<ArrayLike<number>>;
}

/** Builds one index per corpus; a question only searches its own corpus. */
export interface Retriever {
  readonly name: string;
  /** The model behind it, for reports; undefined for lexical retrievers. */
  readonly model?: string;
  index(corpus: EvalCorpus): Promise<CorpusIndex>;
  dispose(): Promise<void>;
}

export interface RetrieverOptions {
  /** Encoder settings for retrievers that embed (`model`, `device`, ...). */
  encoder?: EncoderOptions;
  /** A trained adapter file, for retrievers that use one. */
  adapter?: string;
  bm25?: Bm25Options;
  /** Reciprocal rank fusion constant of `hybrid-rrf`. @default 60 */
  rrfK?: number;
  /** Weights of [bm25, dense] in the hybrids. @default [1, 1] */
  weights?: [number, number];
}

export type RetrieverFactory = (options: RetrieverOptions) => Retriever | Promise<Retriever>;

const registry = new Map<string, { factory: RetrieverFactory; description: string }>();

/**
 * Adds a retriever under `name`, for `createRetriever` and the CLI's `--retriever`. Later
 * modules (the evolving encoder, trained adapters) register themselves the same way.
 */
export function registerRetriever(name: string, description: string, factory: RetrieverFactory): void {
  registry.set(name, { factory, description });
}

/** Registered retrievers: name and one-line description. */
export function listRetrievers(): { name: string; description: string }[] {
  return [...registry].map(([name, { description }]) => ({ name, description }));
}

export async function createRetriever(name: string, options: RetrieverOptions = {}): Promise<Retriever> {
  const entry = registry.get(name);
  if (!entry) {
    throw new EvomemError('INVALID_OPTION', `Unknown retriever ${JSON.stringify(name)}; registered: ${[...registry.keys()].join(', ')}.`);
  }
  return entry.factory(options);
}

function bm25Retriever(options: RetrieverOptions): Retriever {
  return {
    name: 'bm25',
    async index(corpus) {
      const index = new Bm25Index(
        corpus.units.map((u) => u.text),
        options.bm25,
      );
      return { scores: async (q) => index.scores(q.text) };
    },
    async dispose() {},
  };
}

/** Dense retrieval: documents with the model's document prompt, questions with its query prompt, cosine scores. */
export async function denseRetriever(options: RetrieverOptions, encoder?: Encoder): Promise<Retriever & { encoder: Encoder }> {
  const owned = encoder === undefined;
  const enc = encoder ?? (await Encoder.load(options.encoder));
  return {
    name: 'dense',
    model: enc.modelPath,
    encoder: enc,
    async index(corpus) {
      const docs = await enc.embedDocuments(corpus.units.map((u) => u.text));
      const queries = new Map<string, Promise<Float32Array>>();
      for (const q of corpus.questions) queries.set(q.id, enc.embedQuery(q.text));
      return {
        async scores(q) {
          const query = await (queries.get(q.id) ?? enc.embedQuery(q.text));
          return Float64Array.from(docs, (d) => {
            let s = 0;
            for (let i = 0; i < d.length; i++) s += d[i]! * query[i]!;
            return s;
          });
        },
      };
    },
    async dispose() {
      if (owned) await enc.dispose();
    },
  };
}

function hybrid(name: string, fuse: (lists: ArrayLike<number>[], options: RetrieverOptions) => ArrayLike<number>): RetrieverFactory {
  return async (options) => {
    const lexical = bm25Retriever(options);
    const dense = await denseRetriever(options);
    return {
      name,
      model: dense.model,
      async index(corpus) {
        const [a, b] = await Promise.all([lexical.index(corpus), dense.index(corpus)]);
        return { scores: async (q) => fuse([await a.scores(q), await b.scores(q)], options) };
      },
      dispose: () => dense.dispose(),
    };
  };
}

registerRetriever('bm25', 'Okapi BM25 (k1 1.2, b 0.75, lowercase letters and digits, NLTK English stopwords)', bm25Retriever);
registerRetriever('dense', 'cosine similarity of encoder embeddings (--model)', (o) => denseRetriever(o));
registerRetriever(
  'hybrid',
  'bm25 + dense, z-scored per query and summed with equal weights (CombSUM-Z)',
  hybrid('hybrid', (lists, o) => zScoreFusion(lists, o.weights)),
);
registerRetriever(
  'hybrid-rrf',
  'bm25 + dense by reciprocal rank fusion, k 60',
  hybrid('hybrid-rrf', (lists, o) => reciprocalRankFusion(lists, { k: o.rrfK ?? 60, ...(o.weights ? { weights: o.weights } : {}) })),
);
