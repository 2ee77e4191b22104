// Host store: evolving vectors written through the LangChain wrapper (EvolvingVectorStore)
// into a real vector database (PGVectorStore on PGlite + pgvector, over its socket server)
// with an HNSW index, queried through the wrapper; against core's in-process brute-force
// scan (SearchIndex, dense) over the same vectors with the same query embedding path.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Encoder, SearchIndex, SqliteStateStore } from '@evomem/core';
import type { Document } from '@langchain/core/documents';
import { HashEncoder, progress, segmentFor } from './memoryShared.js';
import { locomoTurns, percentile, sharedDir } from './shared.js';

export interface HostStoreOptions {
  workDir: string;
  streams: number;
  turnsPerStream: number;
  /** Turns per stream in one addDocuments round. */
  batch: number;
  queries: number;
  hnsw: { m: number; efConstruction: number };
  /** ef_search values to measure; the first is pgvector's default (40). */
  efSearch: number[];
}

export interface HostStoreReport {
  store: string;
  /** Where the streams' state lived while the vectors were written. */
  stateStore: string;
  vectors: number;
  streams: number;
  documentVectors: string;
  queryVectors: string;
  ingestSeconds: number;
  ingestVectorsPerSecond: number;
  index: string;
  indexBuildSeconds: number;
  queries: number;
  queryP50Ms: number;
  queryP90Ms: number;
  recallAt10: number;
  inProcessScanP50Ms: number;
  inProcessScanP90Ms: number;
  /** Query p50 and recall@10 at each ef_search. */
  efSearch: { efSearch: number; indexScan: boolean; queryP50Ms: number; queryP90Ms: number; recallAt10: number }[];
  /** p50 of the query embedding alone (included in both query timings). */
  embedQueryP50Ms: number;
  compares: string;
}

/** A deterministic UUID per document: PGVectorStore keys rows by uuid. */
function uuidOf(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

/**
 * The default encoder for queries, the cheap source for documents, anchored on the model's
 * embeddings of the LoCoMo turns so that the vectors form clusters as real ones do. The
 * wrapper takes only an `Encoder` (it checks `instanceof`), so this is an `Encoder` whose
 * document path is replaced: embedding 100,000 documents (twice each, text context on)
 * with the model would take about 6 minutes on 2 cores.
 */
async function cheapDocuments(real: Encoder): Promise<Encoder> {
  const cheap = new HashEncoder(real.dimensions, await real.embedDocuments(await locomoTurns()), ANCHOR_NOISE);
  const shim = Object.create(real) as Encoder;
  Object.defineProperties(shim, {
    modelId: { value: `${cheap.modelId}-documents+${real.modelId}-queries` },
    adapter: { value: undefined },
    countTokens: { value: (text: string) => cheap.countTokens(text) },
    embedDocuments: { value: (texts: readonly string[]) => cheap.embedDocuments(texts) },
    embedQuery: { value: (text: string) => real.embedQuery(text) },
  });
  return shim;
}

/** Noise norm around an anchor: a document's cosine to its anchor is about 0.9. */
const ANCHOR_NOISE = 0.5;

function questions(n: number): string[] {
  const data = JSON.parse(readFileSync(join(sharedDir, 'data/locomo/locomo-dev.json'), 'utf8')) as { qa: { question: string }[] }[];
  const all = data.flatMap((s) => s.qa.map((q) => q.question));
  return Array.from({ length: n }, (_, i) => all[i % all.length]!);
}

export async function hostStoreTest(options: HostStoreOptions): Promise<HostStoreReport> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { vector } = await import('@electric-sql/pglite-pgvector');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  const { PGVectorStore } = await import('@langchain/community/vectorstores/pgvector');
  const { EvolvingVectorStore } = await import('@evomem/langchain');

  const real = await Encoder.load({ device: 'cpu' });
  const encoder = await cheapDocuments(real);
  const db = await PGlite.create({ extensions: { vector } });
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 4 });
  await server.start();
  const [host, port] = server.getServerConn().split(':');
  const connection = { host, port: Number(port), user: 'postgres', password: 'postgres', database: 'postgres', max: 2 };
  const ids: string[] = [];
  const vectors: Float32Array[] = [];
  let inner: InstanceType<typeof PGVectorStore> | undefined;
  const state = await SqliteStateStore.open({ path: join(options.workDir, 'host-state.db'), synchronous: 'normal' });
  const store = await EvolvingVectorStore.create({
    vectorStore: async (embeddings) => {
      const pgStore = await PGVectorStore.initialize(embeddings, { postgresConnectionOptions: connection, tableName: 'evomem_vectors', dimensions: real.dimensions, distanceStrategy: 'cosine' });
      // Keep a copy of what goes to the database, for the in-process scan.
      const write = pgStore.addVectors.bind(pgStore);
      pgStore.addVectors = async (v, docs, o) => {
        await write(v, docs, o);
        v.forEach((x, i) => (vectors.push(Float32Array.from(x)), ids.push(o!.ids![i]!)));
      };
      return (inner = pgStore);
    },
    state,
    encoderInstance: encoder,
    stream: (doc) => doc.metadata.user as string,
  });
  try {
    const t0 = performance.now();
    for (let from = 0; from < options.turnsPerStream; from += options.batch) {
      const docs: Document[] = [];
      for (let s = 0; s < options.streams; s++) {
        for (let t = from; t < Math.min(options.turnsPerStream, from + options.batch); t++) {
          const seg = segmentFor(`u${s}-t${t}`);
          docs.push({ id: uuidOf(s * options.turnsPerStream + t), pageContent: seg.text, metadata: { user: `u${s}`, speaker: seg.speaker, session: seg.session } });
        }
      }
      await store.addDocuments(docs);
      progress(`hostStore: ${vectors.length} vectors written through the wrapper (${(vectors.length / ((performance.now() - t0) / 1000)).toFixed(0)}/s)`);
    }
    const ingestSeconds = (performance.now() - t0) / 1000;

    const t1 = performance.now();
    await db.exec("SET maintenance_work_mem = '1GB'");
    await inner!.createHnswIndex({ dimensions: real.dimensions, m: options.hnsw.m, efConstruction: options.hnsw.efConstruction });
    const indexBuildSeconds = (performance.now() - t1) / 1000;
    progress(`hostStore: HNSW index built in ${indexBuildSeconds.toFixed(0)} s`);
    // Statistics, as autovacuum would have them on a live database; the plan is recorded per ef_search,
    // because pgvector's cost estimate may still prefer a sequential scan (it did at 10,000 rows, ef_search 40).
    await db.exec('ANALYZE evomem_vectors');
    const probe = `[${Array.from({ length: real.dimensions }, (_, d) => (d % 7) / 7 - 0.4).join(',')}]`;
    const usesIndex = async () => {
      const { rows } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN SELECT * FROM evomem_vectors ORDER BY embedding <=> '${probe}' LIMIT 10`);
      return rows.some((r) => /hnsw_idx/.test(r['QUERY PLAN']));
    };

    // The old way: core's SearchIndex dense scan over the same vectors in process.
    const index = new SearchIndex({ mode: 'dense', encoder: { embedDocuments: async () => vectors, embedQuery: (text: string) => real.embedQuery(text) } as unknown as Encoder });
    await index.add(ids);
    const qs = questions(options.queries);
    const exact: string[][] = [];
    const scanMs: number[] = [];
    const embedMs: number[] = [];
    for (const q of qs.slice(0, 10)) await index.search(q, 10);
    for (const q of qs) {
      let t = performance.now();
      const hits = await index.search(q, 10);
      scanMs.push(performance.now() - t);
      exact.push(hits.map((h) => ids[h.index]!));
      t = performance.now();
      await store.embeddings.embedQuery(q);
      embedMs.push(performance.now() - t);
    }

    const efSearch: HostStoreReport['efSearch'] = [];
    for (const ef of options.efSearch) {
      // PGlite is one backend session behind every socket connection, so this reaches the pool's queries.
      await db.exec(`SET hnsw.ef_search = ${ef}`);
      const indexScan = await usesIndex();
      for (const q of qs.slice(0, 10)) await store.similaritySearch(q, 10);
      const ms: number[] = [];
      let found = 0;
      for (const [i, q] of qs.entries()) {
        const t = performance.now();
        const hits = await store.similaritySearch(q, 10);
        ms.push(performance.now() - t);
        const want = new Set(exact[i]);
        found += hits.filter((h) => want.has(h.id!)).length;
      }
      efSearch.push({ efSearch: ef, indexScan, queryP50Ms: percentile(ms, 50), queryP90Ms: percentile(ms, 90), recallAt10: found / (10 * qs.length) });
      progress(`hostStore: ef_search ${ef}: p50 ${percentile(ms, 50).toFixed(1)} ms, recall@10 ${(found / (10 * qs.length)).toFixed(3)}`);
    }
    const first = efSearch[0]!;
    return {
      store: 'PGVectorStore (@langchain/community) on PGlite + pgvector (WASM, one thread), through pglite-socket and pg',
      stateStore: 'SQLite, synchronous=normal (no fsync per commit; the kill test covers the default, full)',
      vectors: vectors.length,
      streams: options.streams,
      documentVectors: `cheap fixed source anchored on the default model's embeddings of the LoCoMo dev turns (each text: the anchor its hash picks + Gaussian noise of norm ${ANCHOR_NOISE}, normalized), through the evolving encoder (text context + latent read-out)`,
      queryVectors: `the default model's query encodings (${real.modelId}) of LoCoMo questions`,
      ingestSeconds,
      ingestVectorsPerSecond: vectors.length / ingestSeconds,
      index: `HNSW m=${options.hnsw.m} ef_construction=${options.hnsw.efConstruction} (vector_cosine_ops, PGVectorStore.createHnswIndex), built after the load`,
      indexBuildSeconds,
      queries: qs.length,
      queryP50Ms: first.queryP50Ms,
      queryP90Ms: first.queryP90Ms,
      recallAt10: first.recallAt10,
      inProcessScanP50Ms: percentile(scanMs, 50),
      inProcessScanP90Ms: percentile(scanMs, 90),
      efSearch,
      embedQueryP50Ms: percentile(embedMs, 50),
      compares:
        'queryP50Ms: EvolvingVectorStore.similaritySearch(question, 10) = query embedding + PGVectorStore HNSW search over pg/socket into PGlite, at the first ef_search; ' +
        'inProcessScanP50Ms: SearchIndex (dense) search(question, 10) = the same query embedding + a brute-force dot product over the same vectors in process; ' +
        'recallAt10: share of the exact top 10 (the scan) that the HNSW search returned.',
    };
  } finally {
    await store.close();
    await state.close();
    await inner?.end();
    await server.stop();
    await db.close();
    await real.dispose();
  }
}
