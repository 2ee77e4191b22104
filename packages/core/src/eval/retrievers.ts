import { readFile } from 'node:fs/promises';
import { adapterFilePath, QueryAdapter } from '../adapter/QueryAdapter.js';
import { Encoder, type EncoderOptions } from '../encoder/Encoder.js';
import { EvomemError } from '../errors.js';
import { checkEvolvingOptions, EvolvingEncoder, type EvolvingOptions } from '../memory/EvolvingEncoder.js';
import { checkEvolvingWeights, type EvolvingWeights } from '../memory/readOut.js';
import type { FusionWeights, PipelineParts } from '../retrieval/pipeline.js';
import { fusionWeightsRule, SearchIndex, type SearchIndexOptions, type SearchMode } from '../retrieval/SearchIndex.js';
import { checkOptions, is } from '../util/options.js';
import type { Bm25Options } from '../retrieval/Bm25Index.js';
import { addCorpus } from './fusionExamples.js';
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
  /**
   * A trained adapter: a folder or `adapter.json` written by `trainAdapter` / `evomem train`
   * (query projection, and the gate when trained with the evolving encoder), or an evolving
   * weights file (evolving retrievers only).
   */
  adapter?: string;
  bm25?: Bm25Options;
  /** Reciprocal rank fusion constant of `hybrid-rrf`. @default 60 */
  rrfK?: number;
  /** Weights of [bm25, dense] in the hybrids. @default [1, 1] */
  weights?: [number, number];
  /** Options of the `evolving` retrievers. */
  evolving?: Omit<EvolvingOptions, 'weights'>;
  /** The `pipeline` retrievers' parts, each on unless set to false. @default all on */
  parts?: PipelineParts;
  /** The `pipeline` retrievers' fusion weights. @default the adapter's, else `DEFAULT_FUSION` */
  fusionWeights?: FusionWeights;
}

const RETRIEVER_SPEC = {
  encoder: is.object,
  adapter: is.nonEmptyString,
  bm25: is.object,
  rrfK: is.number(0),
  weights: fusionWeightsRule,
  evolving: is.object,
  parts: is.object,
  fusionWeights: is.object,
};

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

/**
 * A retriever that puts each corpus in a `SearchIndex` of the given mode; with `evolving`,
 * the corpus is ingested in order into a memory stream (its units' speaker, session and
 * date as segment metadata), and `adapter` names an evolving weights file.
 */
async function indexRetriever(name: string, mode: SearchMode, options: RetrieverOptions, fusion?: 'zscore' | 'rrf', evolving = false): Promise<Retriever> {
  checkOptions(`createRetriever('${name}')`, options, RETRIEVER_SPEC);
  if (options.evolving) checkEvolvingOptions(`createRetriever('${name}') evolving`, options.evolving);
  if (options.adapter && mode === 'bm25') {
    throw new EvomemError('INVALID_OPTION', `${name} uses no adapter: it scores words, not embeddings. Drop the adapter (--adapter ${options.adapter}), or use it with dense, hybrid or an evolving retriever.`);
  }
  const adapterFile = options.adapter ? await readAdapterFile(options.adapter) : undefined;
  if (adapterFile?.weights && !evolving) {
    throw new EvomemError('INVALID_OPTION', `${options.adapter} holds evolving encoder weights; use it with an evolving retriever, or pass an adapter trained by evomem train.`);
  }
  const encoder = mode === 'bm25' ? undefined : await Encoder.load({ ...options.encoder, ...(adapterFile?.adapter ? { adapter: adapterFile.adapter } : {}) });
  const weights = adapterFile?.weights && encoder ? checkEvolvingWeights(adapterFile.weights, adapterFile.file, encoder.dimensions) : undefined;
  const evolvingEncoder = evolving && encoder ? new EvolvingEncoder(encoder, { onWarning: () => {}, ...options.evolving, ...(weights ? { weights } : {}) }) : undefined;
  const settings: SearchIndexOptions = { mode, ...(fusion ? { fusion } : {}), ...(evolvingEncoder ? { evolving: evolvingEncoder } : encoder ? { encoder } : {}) };
  if (options.bm25) settings.bm25 = options.bm25;
  if (options.weights) settings.weights = options.weights;
  if (options.rrfK !== undefined) settings.rrfK = options.rrfK;
  if (options.parts) settings.parts = options.parts;
  if (options.fusionWeights) settings.fusionWeights = options.fusionWeights;
  return {
    name,
    ...(encoder ? { model: encoder.modelPath } : {}),
    async index(corpus) {
      const index = new SearchIndex(settings);
      await addCorpus(index, corpus);
      return { scores: (q) => index.scores(q.text) };
    },
    dispose: async () => encoder?.dispose(),
  };
}

/** An adapter folder or JSON file, read once: a trained `QueryAdapter`, or evolving weights (checked once the encoder's width is known). */
async function readAdapterFile(path: string): Promise<{ file: string; adapter?: QueryAdapter; weights?: EvolvingWeights }> {
  const file = await adapterFilePath(path);
  let json: { format?: unknown };
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as { format?: unknown };
  } catch (error) {
    throw new EvomemError('STATE_INVALID', `${file} is not a readable adapter: ${(error as Error).message}. Give the folder evomem train --out wrote.`, { cause: error });
  }
  // Checked in full now, before any model loads; the width once the encoder is known.
  if (json?.format === 'evomem-evolving-weights') return { file, weights: checkEvolvingWeights(json, file) };
  if (json?.format === 'evomem-adapter') return { file, adapter: QueryAdapter.fromJson(json, file) };
  throw new EvomemError('STATE_INVALID', `${file} is neither an evomem adapter nor evolving weights (format ${JSON.stringify(json?.format)}).`);
}

registerRetriever('pipeline', 'the recommended pipeline (the default): BM25 and static embeddings with neighbour, session, speaker and date signals, fused with learned weights', (o) =>
  indexRetriever('pipeline', 'pipeline', o),
);
registerRetriever('pipeline-evolving', 'the pipeline on the evolving encoder (turns encoded in order, each with its context mixed in; one encoder pass per turn)', (o) =>
  indexRetriever('pipeline-evolving', 'pipeline', o, undefined, true),
);
registerRetriever('bm25', 'Okapi BM25 (k1 1.2, b 0.75, lowercase letters and digits, NLTK English stopwords)', (o) => indexRetriever('bm25', 'bm25', o));
registerRetriever('dense', 'cosine similarity of encoder embeddings (--model)', (o) => indexRetriever('dense', 'dense', o));
registerRetriever('hybrid', 'bm25 + dense, z-scored per query and summed with equal weights (CombSUM-Z)', (o) => indexRetriever('hybrid', 'hybrid', o, 'zscore'));
registerRetriever('hybrid-rrf', 'bm25 + dense by reciprocal rank fusion, k 60', (o) => indexRetriever('hybrid-rrf', 'hybrid', o, 'rrf'));

registerRetriever('evolving', 'evolving encoder: turns encoded in order with session context and a memory-queue read-out (--adapter: a trained adapter or weights file)', (o) =>
  indexRetriever('evolving', 'dense', o, undefined, true),
);
registerRetriever('evolving-hybrid', 'evolving encoder fused with bm25 by z-scores', (o) => indexRetriever('evolving-hybrid', 'hybrid', o, 'zscore', true));
