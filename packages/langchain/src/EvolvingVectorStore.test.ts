import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { Encoder, EvolvingEncoder, EvolvingMemory, EvomemError, QueryAdapter, type Segment } from '@evomem/core';
import { MemoryVectorStore } from '@langchain/classic/vectorstores/memory';
import { PGVectorStore } from '@langchain/community/vectorstores/pgvector';
import { Document, type DocumentInterface } from '@langchain/core/documents';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EvomemEmbeddings } from './EvomemEmbeddings.js';
import { EvolvingVectorStore } from './EvolvingVectorStore.js';

interface Turn {
  speaker: string;
  dia_id: string;
  text: string;
}
const sample = JSON.parse(await readFile(new URL('../../../data/sample-conversation.json', import.meta.url), 'utf8'))[0];
const turns = Object.entries(sample.conversation as Record<string, unknown>)
  .filter(([k]) => /^session_\d+$/.test(k))
  .flatMap(([, s]) => s as Turn[]);
const session = (t: Turn) => t.dia_id.split(':')[0]!;
// "She got the pediatric nurse position." (D1:9) names neither Maya's sister nor Denver; the turns before it do.
const contextQuestion = "What job did Maya's sister get in Denver?";

const docsOf = (ts: Turn[], id: (t: Turn) => string = (t) => t.dia_id, extra: Record<string, unknown> = {}) =>
  ts.map((t) => new Document({ id: id(t), pageContent: t.text, metadata: { dia_id: t.dia_id, speaker: t.speaker, session: session(t), ...extra } }));
const segmentsOf = (ts: Turn[]): Segment[] => ts.map((t) => ({ id: t.dia_id, text: t.text, speaker: t.speaker, session: session(t) }));

let encoder: Encoder;
let dir: string;
/** What a plain evolving stream gives for these turns, ingested at once in a fresh stream. */
const reference = (ts: Turn[]) => new EvolvingEncoder(encoder).stream('x').ingest(segmentsOf(ts));

function expectVectors(actual: ArrayLike<number>[], expected: ArrayLike<number>[]): void {
  expect(actual).toHaveLength(expected.length);
  const worst = Math.max(...actual.map((a, i) => Math.max(...Array.from(a, (x, d) => Math.abs(x - expected[i]![d]!)))));
  expect(worst).toBeLessThan(1e-5);
}

/** The inner MemoryVectorStore's vectors, by document id. */
const memoryVectors = (store: MemoryVectorStore) => new Map(store.memoryVectors.map((v) => [v.id!, v.embedding]));

beforeAll(async () => {
  encoder = await Encoder.load({ device: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'evomem-langchain-'));
});
afterAll(async () => {
  await encoder?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('EvolvingVectorStore over MemoryVectorStore', () => {
  const open = (options: Partial<Parameters<typeof EvolvingVectorStore.create<MemoryVectorStore>>[0]> = {}) =>
    EvolvingVectorStore.create<MemoryVectorStore>({ vectorStore: (e) => new MemoryVectorStore(e), state: 'memory:', encoderInstance: encoder, ...options });

  it('stores the vectors a plain evolving stream gives, with speaker and session from metadata', async () => {
    const store = await open();
    expect(await store.addDocuments(docsOf(turns))).toEqual(turns.map((t) => t.dia_id));
    const stored = memoryVectors(store.inner);
    expectVectors(turns.map((t) => stored.get(t.dia_id)!), await reference(turns));
    // The stored documents keep their text, metadata and id.
    expect(store.inner.memoryVectors[8]).toMatchObject({ id: 'D1:9', content: turns[8]!.text, metadata: { speaker: turns[8]!.speaker } });
  });

  it('retrieves a turn whose meaning is in the turns before it, which static embeddings miss', async () => {
    const store = await open();
    await store.addDocuments(docsOf(turns));
    const plain = await MemoryVectorStore.fromDocuments(
      turns.map((t) => new Document({ id: t.dia_id, pageContent: `${t.speaker}: ${t.text}` })),
      new EvomemEmbeddings({ encoderInstance: encoder }),
    );
    const rank = (hits: DocumentInterface[]) => hits.findIndex((d) => d.id === 'D1:9');
    const evolving = rank(await store.asRetriever({ k: turns.length }).invoke(contextQuestion));
    const static_ = rank(await plain.asRetriever({ k: turns.length }).invoke(contextQuestion));
    expect(evolving).toBeGreaterThanOrEqual(0);
    expect(evolving).toBeLessThan(static_);
  });

  it('embeds queries with the encoder, adapter applied', async () => {
    const model = await encoder.describeModel();
    const D = model.dimensions;
    const rank = 8;
    let seed = 7;
    const random = (n: number) => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647 - 0.5) * 0.5);
    const adapted = await Encoder.load({ device: 'cpu', adapter: new QueryAdapter({ model, projection: { kind: 'low-rank', rank, u: random(D * rank), v: random(D * rank) } }) });
    try {
      const store = await open({ encoderInstance: adapted });
      await store.addDocuments(docsOf(turns));
      const hits = await store.similaritySearchWithScore(contextQuestion, turns.length);
      const stored = memoryVectors(store.inner);
      const cosine = (q: Float32Array, v: number[]) => v.reduce((s, x, d) => s + x * q[d]!, 0);
      const [withAdapter, without] = [await adapted.embedQuery(contextQuestion), await encoder.embedQuery(contextQuestion)];
      for (const [doc, score] of hits) expect(score).toBeCloseTo(cosine(withAdapter, stored.get(doc.id!)!), 5);
      expect(Math.max(...hits.map(([doc, score]) => Math.abs(score - cosine(without, stored.get(doc.id!)!))))).toBeGreaterThan(0.01);
    } finally {
      await adapted.dispose();
    }
  });

  it('keeps streams independent when their documents are interleaved', async () => {
    const [a, b] = [turns.filter((t) => session(t) === 'D1'), turns.filter((t) => session(t) === 'D2')];
    const store = await open({ stream: (doc) => doc.metadata.user });
    const tagged = (ts: Turn[], user: string) => docsOf(ts, undefined, { user });
    const [da, db] = [tagged(a, 'maya'), tagged(b, 'theo')];
    // One call with both streams interleaved, then a call for one stream, then the other.
    await store.addDocuments([da[0]!, db[0]!, da[1]!, db[1]!, da[2]!, db[2]!]);
    await store.addDocuments(db.slice(3), { stream: 'theo' });
    await store.addDocuments(da.slice(3));
    const stored = memoryVectors(store.inner);
    expectVectors(a.map((t) => stored.get(t.dia_id)!), await reference(a));
    expectVectors(b.map((t) => stored.get(t.dia_id)!), await reference(b));
    expect(await store.memory.store.streams()).toEqual(['maya', 'theo']);
  });

  it('takes ids from the document, else from options, else a new UUID, and refuses one the stream holds', async () => {
    const store = await open();
    const untitled = (text: string) => new Document({ pageContent: text, metadata: {} });
    expect(await store.addDocuments([untitled('Maya: the kiln is fixed.'), new Document({ id: 'own', pageContent: 'Theo: great news.' })], { ids: ['given', 'own'] })).toEqual(['given', 'own']);
    const [generated] = await store.addDocuments([untitled('Maya: the class is on Tuesday.')]);
    expect(generated).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(store.inner.memoryVectors.map((v) => v.id)).toEqual(['given', 'own', generated]);
    const retry = await store.addDocuments([untitled('Maya: the kiln is fixed.')], { ids: ['given'] }).catch((e: unknown) => e);
    expect(retry).toBeInstanceOf(EvomemError);
    expect((retry as EvomemError).code).toBe('SEGMENT_DUPLICATE');
    expect(store.inner.memoryVectors).toHaveLength(3);
  });

  it('refuses what would bypass or misuse the streams, naming the fix', async () => {
    const store = await open();
    await expect(store.addVectors([[1]], [new Document({ pageContent: 'x' })])).rejects.toThrow(/Use addDocuments\(documents\)/);
    await expect(store.addDocuments([new Document({ pageContent: 'x', metadata: {} })], { stream: (d) => d.metadata.user })).rejects.toThrow(/stream of documents\[0\] is undefined/);
    await expect(store.addDocuments([new Document({ pageContent: ' ' })])).rejects.toThrow(/documents\[0\] has no pageContent/);
    await expect(store.addDocuments([new Document({ pageContent: 'x' })], { ids: ['a', 'b'] })).rejects.toThrow(/1 documents and 2 ids/);
    // @ts-expect-error state is required
    await expect(EvolvingVectorStore.create({ vectorStore: new MemoryVectorStore(new EvomemEmbeddings()) })).rejects.toThrow(/needs state/);
    expect(() => new EvolvingVectorStore({ vectorStore: store.inner, memory: new EvolvingMemory(new EvolvingEncoder(encoder, { queryReadout: true })) })).toThrow(/queryReadout/);
    expect(await store.memory.store.streams()).toEqual([]);
  });

  it("runs maximal marginal relevance in the inner store only when it embeds queries with the store's encoder", async () => {
    const store = await open();
    await store.addDocuments(docsOf(turns));
    const [top] = await store.similaritySearch(contextQuestion, 1);
    const mmr = await store.asRetriever({ k: 4, searchType: 'mmr', searchKwargs: { fetchK: 20 } }).invoke(contextQuestion);
    expect(mmr).toHaveLength(4);
    expect(mmr[0]!.id).toBe(top!.id);

    const elsewhere = await open({ vectorStore: new MemoryVectorStore(new EvomemEmbeddings({ encoder: { device: 'cpu' } })) });
    await expect(elsewhere.maxMarginalRelevanceSearch(contextQuestion, { k: 2 })).rejects.toThrow(/other embeddings than this store's encoder/);
  });

  it('continues a stream after a restart from its SQLite state, as if never interrupted', async () => {
    const file = join(dir, 'restart.db');
    const inner = new MemoryVectorStore(new EvomemEmbeddings({ encoderInstance: encoder })); // outlives both "processes"
    const half = Math.floor(turns.length / 2);
    const before = await EvolvingVectorStore.create({ vectorStore: inner, state: `sqlite:${file}`, encoder: { device: 'cpu' } });
    await before.addDocuments(docsOf(turns.slice(0, half)));
    await before.close();
    await expect(before.addDocuments(docsOf(turns.slice(half)))).rejects.toMatchObject({ code: 'DISPOSED' });

    const after = await EvolvingVectorStore.create({ vectorStore: inner, state: `sqlite:${file}`, encoder: { device: 'cpu' } });
    await after.addDocuments(docsOf(turns.slice(half)));
    await after.close();
    const stored = memoryVectors(inner);
    expectVectors(turns.map((t) => stored.get(t.dia_id)!), await reference(turns));
  });
});

describe('EvolvingVectorStore over PGVectorStore (PGlite with pgvector)', () => {
  let db: PGlite;
  let server: PGLiteSocketServer;
  let pool: pg.Pool;
  let connection: pg.PoolConfig;
  /** Every PGVectorStore opened, each on its own pool (PGVectorStore.initialize holds a client until end()). */
  const opened: PGVectorStore[] = [];
  const track = <S extends PGVectorStore>(store: S): S => (opened.push(store), store);
  const uuids = new Map(turns.map((t) => [t.dia_id, randomUUID()]));
  const pgDocs = (ts: Turn[]) => docsOf(ts, (t) => uuids.get(t.dia_id)!);
  /** Rows of a table: id and stored vector. */
  const rows = async (table: string) =>
    new Map((await pool.query<{ id: string; v: string }>(`SELECT id::text AS id, embedding::text AS v FROM ${table}`)).rows.map((r) => [r.id, JSON.parse(r.v) as number[]]));

  beforeAll(async () => {
    db = await PGlite.create({ extensions: { vector } });
    server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 16 });
    await server.start();
    const [host, port] = server.getServerConn().split(':');
    connection = { host, port: Number(port), user: 'postgres', password: 'postgres', database: 'postgres', max: 2 };
    pool = new pg.Pool(connection);
    await pool.query('SELECT 1');
  }, 120_000);
  afterAll(async () => {
    for (const store of opened) await store.end();
    await pool?.end();
    await server?.stop();
    await db?.close();
  });

  const openPg = (table: string, state: string, more: { deleteBeforeAdd?: boolean; vectorStore?: (e: EvomemEmbeddings) => PGVectorStore } = {}) =>
    EvolvingVectorStore.create<PGVectorStore>({
      vectorStore: async (e) => track(await PGVectorStore.initialize(e, { postgresConnectionOptions: connection, tableName: table, dimensions: encoder.dimensions })),
      state,
      encoderInstance: encoder,
      stream: 'maya-theo',
      ...more,
    });

  it('leaves the stream as it was when the vector write fails', async () => {
    const store = await openPg('gone', 'memory:');
    const half = Math.floor(turns.length / 2);
    await store.addDocuments(pgDocs(turns.slice(0, half)));
    await pool.query('DROP TABLE gone');
    // PGVectorStore logs the failed insert to console.error before rethrowing it.
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(store.addDocuments(pgDocs(turns.slice(half)))).rejects.toThrow(/"gone" does not exist/);
    expect(logged).toHaveBeenCalled();
    logged.mockRestore();
    expect((await store.memory.state('maya-theo'))!.turns).toBe(half);

    await store.inner.ensureTableInDatabase(encoder.dimensions);
    await store.addDocuments(pgDocs(turns.slice(half)));
    const stored = await rows('gone');
    expectVectors(turns.slice(half).map((t) => stored.get(uuids.get(t.dia_id)!)!), (await reference(turns)).slice(half));
  });

  it('stores the evolving vectors in Postgres, searches them, and re-adds after a crash without duplicate rows', async () => {
    const state = `sqlite:${join(dir, 'pg-state.db')}`;
    const half = Math.floor(turns.length / 2);
    const store = await openPg('turns', state, { deleteBeforeAdd: true });
    await store.addDocuments(pgDocs(turns.slice(0, half)));

    // Another process writes the second half to Postgres and dies before its state commits.
    /** A real PGVectorStore whose process dies right after its rows are written. */
    class DiesAfterWrite extends PGVectorStore {
      override async addVectors(...args: Parameters<PGVectorStore['addVectors']>): Promise<void> {
        await super.addVectors(...args);
        throw new Error('died after the vector write');
      }
    }
    const dying = await openPg('turns', state, { deleteBeforeAdd: true, vectorStore: (e) => track(new DiesAfterWrite(e, { postgresConnectionOptions: connection, tableName: 'turns' })) });
    await expect(dying.addDocuments(pgDocs(turns.slice(half)))).rejects.toThrow('died after the vector write');
    await dying.close();
    expect((await rows('turns')).size).toBe(turns.length);
    expect((await store.memory.state('maya-theo'))!.turns).toBe(half);

    // PGVectorStore inserts: without deleteBeforeAdd its primary key refuses the retry, and nothing commits.
    const inserting = await openPg('turns', state);
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
    await expect(inserting.addDocuments(pgDocs(turns.slice(half)))).rejects.toThrow(/duplicate key/);
    expect(logged).toHaveBeenCalled();
    logged.mockRestore();
    await inserting.close();

    await store.addDocuments(pgDocs(turns.slice(half)));
    await store.close();
    const { rows: counts } = await pool.query<{ n: string; ids: string }>('SELECT count(*) AS n, count(DISTINCT id) AS ids FROM turns');
    expect(counts[0]).toEqual({ n: String(turns.length), ids: String(turns.length) });
    const stored = await rows('turns');
    expectVectors(turns.map((t) => stored.get(uuids.get(t.dia_id)!)!), await reference(turns));

    // Searching Postgres ranks as searching the same vectors in memory does.
    const inMemory = await EvolvingVectorStore.create({ vectorStore: (e) => new MemoryVectorStore(e), state: 'memory:', encoderInstance: encoder });
    await inMemory.addDocuments(docsOf(turns));
    const fromPg = await store.similaritySearch(contextQuestion, 5);
    expect(fromPg.map((d) => d.metadata.dia_id)).toEqual((await inMemory.similaritySearch(contextQuestion, 5)).map((d) => d.metadata.dia_id));
    expect((await store.similaritySearch('What kind of dog did Theo adopt?', 3)).map((d) => d.metadata.dia_id)).toContain('D1:12');
  });
});
