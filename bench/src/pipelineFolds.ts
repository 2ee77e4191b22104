// The data of the retrieval pipeline's benchmark and of its shipped defaults: both dev files'
// corpora, each embedded once per backend, and each question's signal columns computed by
// the pipeline from those embeddings and a query vector under a given adapter. The index
// would compute the same (packages/core/src/retrieval/searchPipeline.test.ts checks that
// SearchIndex.signals is RetrievalPipeline.signals over the embeddings' dot products),
// but embedding each corpus once lets every fold reuse it: the adapters change queries only.
import {
  Encoder,
  EvolvingEncoder,
  HierarchicalNegativeSampler,
  QueryAdapter,
  readDataset,
  RetrievalPipeline,
  samplerInputFromDataset,
  trainAdapter,
  unitMeta,
  type EvalCorpus,
  type EvalDataset,
  type FusionExample,
  type PipelineParts,
} from '@evomem/core';

export type Backend = 'static' | 'evolving';

export interface Corpus {
  dataset: string;
  corpus: EvalCorpus;
  /** Document vectors per backend. */
  docs: Record<Backend, Float32Array[]>;
  /** The encoder's query vectors without any adapter. */
  queries: Float32Array[];
  /** Each question's evidence positions. */
  gold: number[][];
}

export interface DevData {
  names: string[];
  turns: EvalDataset[];
  observations: EvalDataset[];
  corpora: Corpus[];
}

/** Reads the files and embeds every corpus with both backends (the encoder must run without an adapter). */
export async function loadDevData(files: Record<string, string>, encoder: Encoder): Promise<DevData> {
  const evolving = new EvolvingEncoder(encoder, { onWarning: () => {} });
  const names = Object.keys(files);
  const turns: EvalDataset[] = [];
  const observations: EvalDataset[] = [];
  const corpora: Corpus[] = [];
  for (const name of names) {
    const ds = await readDataset(files[name]!, { unit: 'turn' });
    turns.push(ds);
    observations.push(await readDataset(files[name]!, { unit: 'observation' }));
    for (const corpus of ds.corpora) {
      if (corpus.questions.length === 0) continue;
      const texts = corpus.units.map((u) => u.text);
      const segments = corpus.units.map((u, i) => ({ id: `${i}:${u.key}`, text: u.text.trim() === '' ? '(empty)' : u.text, ...unitMeta(u) }));
      const position = new Map(corpus.units.map((u, i) => [u.key, i]));
      const queries: Float32Array[] = [];
      for (const q of corpus.questions) queries.push(await encoder.embedQuery(q.text));
      corpora.push({
        dataset: name,
        corpus,
        docs: { static: await encoder.embedDocuments(texts), evolving: await evolving.stream(corpus.id).ingest(segments) },
        queries,
        gold: corpus.questions.map((q) => q.evidence.map((k) => position.get(k)).filter((i): i is number => i !== undefined)),
      });
    }
  }
  return { names, turns, observations, corpora };
}

const dot = (a: Float32Array, b: Float32Array) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

/** A corpus's questions as fusion examples for one backend, adapter and set of parts. */
export function corpusExamples(c: Corpus, backend: Backend, adapter: QueryAdapter | undefined, parts: PipelineParts = {}): FusionExample[] {
  const pipeline = new RetrievalPipeline(
    c.corpus.units.map((u) => ({ text: u.text, ...unitMeta(u) })),
    { parts },
  );
  const docs = c.docs[backend];
  return c.corpus.questions.map((q, i) => {
    const query = adapter ? adapter.apply(c.queries[i]!) : c.queries[i]!;
    return { id: q.id, columns: pipeline.signals(q.text, Float64Array.from(docs, (d) => dot(d, query))), gold: c.gold[i]! };
  });
}

/** Trains the query adapter of the shipped defaults' recipe (HiNS negatives, defaults) on every corpus but `heldOut`. */
export async function trainFoldAdapter(data: DevData, encoder: Encoder, heldOut?: string): Promise<{ adapter: QueryAdapter; seconds: number; groups: number }> {
  const started = performance.now();
  const keep = (c: EvalCorpus) => c.id !== heldOut;
  const input = samplerInputFromDataset(
    { ...data.turns[0]!, corpora: data.turns.flatMap((d) => d.corpora.filter(keep)) },
    { ...data.observations[0]!, corpora: data.observations.flatMap((d) => d.corpora.filter(keep)) },
  );
  const { groups } = await new HierarchicalNegativeSampler(input.messages, input.queries, { encoder }).sample();
  const trained = (await trainAdapter(encoder, { messages: input.messages, groups })).adapter;
  // The corpora it saw, so that a cached fold adapter can be checked to exclude its held-out corpus.
  const corpora = data.corpora.map((c) => c.corpus.id).filter((id) => id !== heldOut);
  const adapter = new QueryAdapter({ model: trained.model, projection: trained.projection, evolving: trained.evolving, training: { ...trained.training, corpora } });
  return { adapter, seconds: (performance.now() - started) / 1000, groups: groups.length };
}
