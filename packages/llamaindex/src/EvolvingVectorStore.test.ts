import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder, EvolvingEncoder, EvolvingMemory, openStateStore, type Segment } from '@evomem/core';
import { MetadataMode, Settings, SimpleVectorStore, TextNode, VectorStoreIndex, storageContextFromDefaults, type BaseVectorStore } from 'llamaindex';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { EvomemEmbedding } from './EvomemEmbedding.js';
import { EvomemRetriever } from './EvomemRetriever.js';
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

// The metadata is excluded from the embedded text, so a node's segment is exactly the turn.
const nodesOf = (ts: Turn[]) =>
  ts.map(
    (t) =>
      new TextNode({ id_: t.dia_id, text: t.text, metadata: { dia_id: t.dia_id, speaker: t.speaker, session: session(t) } as Record<string, string>, excludedEmbedMetadataKeys: ['dia_id', 'speaker', 'session'] }),
  );
const segmentsOf = (ts: Turn[]): Segment[] => ts.map((t) => ({ id: t.dia_id, text: t.text, speaker: t.speaker, session: session(t) }));

// The bare model: these tests are about the evolving mechanism and the store, whose vectors
// the default query adapter does not change; its effect on recall is benchmarked
// (pnpm bench:retrieval), not asserted on one question here.
const encoder = await Encoder.load({ device: 'cpu', adapter: false });
/** What the evolving encoder gives for these turns ingested in one uninterrupted stream. */
const reference = (ts: Turn[]) => new EvolvingEncoder(encoder).stream('x').ingest(segmentsOf(ts));

const staticEmbedding = new EvomemEmbedding({ encoderInstance: encoder });
Settings.embedModel = staticEmbedding;
beforeEach(() => void vi.restoreAllMocks());

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evomem-llamaindex-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

function maxDiff(actual: readonly number[] | undefined, expected: Float32Array): number {
  expect(actual).toHaveLength(expected.length);
  return Math.max(...expected.map((x, d) => Math.abs(x - actual![d]!)));
}

/** Every turn's vector in `store` is within 1e-5 of the uninterrupted stream's. */
async function expectUninterrupted(store: SimpleVectorStore, ts: Turn[]): Promise<void> {
  const expected = await reference(ts);
  for (const [i, t] of ts.entries()) expect(maxDiff(await store.get(t.dia_id), expected[i]!), t.dia_id).toBeLessThan(1e-5);
}

async function evolvingIndex(options: { memory?: EvolvingMemory; inner?: SimpleVectorStore } = {}) {
  const memory = options.memory ?? new EvolvingMemory(new EvolvingEncoder(encoder));
  const inner = options.inner ?? new SimpleVectorStore();
  const vectorStore = new EvolvingVectorStore(inner, { memory });
  const index = await VectorStoreIndex.init({ nodes: [], storageContext: await storageContextFromDefaults({ vectorStores: { TEXT: vectorStore } }) });
  return { memory, inner, vectorStore, index };
}

describe('EvolvingVectorStore in a VectorStoreIndex', () => {
  it('gives inserted nodes the evolving embeddings, in insertion order, without the static embedder', async () => {
    const batch = vi.spyOn(staticEmbedding, 'getTextEmbeddingsBatch');
    const { inner, index } = await evolvingIndex();
    await index.insertNodes(nodesOf(turns.slice(0, 10)));
    await index.insertNodes(nodesOf(turns.slice(10)));
    await expectUninterrupted(inner, turns);
    expect(batch).not.toHaveBeenCalled();

    // The spy does see the static path: a plain index embeds through it.
    const plain = await VectorStoreIndex.init({ nodes: nodesOf(turns.slice(0, 2)) });
    expect(batch).toHaveBeenCalledTimes(1);
    expect(maxDiff(await (plain.vectorStores.TEXT as SimpleVectorStore).get('D1:1'), (await encoder.embedDocuments([turns[0]!.text]))[0]!)).toBeLessThan(1e-5);
  });

  it('embeds the text LlamaIndex embeds and reads speaker, session and timestamp from metadata', async () => {
    const { memory, vectorStore } = await evolvingIndex();
    const node = new TextNode({ id_: 'n1', text: 'The pottery class starts Tuesday.', metadata: { speaker: 'Maya', session: 'S1', timestamp: '2024-05-01T10:00:00Z', topic: 'pottery' } });
    const [vector] = await vectorStore.add([node]);
    expect(vector).toBe('n1');
    const expected = await new EvolvingEncoder(encoder)
      .stream('x')
      .ingest([{ id: 'n1', text: node.getContent(MetadataMode.EMBED), speaker: 'Maya', session: 'S1', timestamp: '2024-05-01T10:00:00Z' }]);
    expect(maxDiff(node.embedding, expected[0]!)).toBeLessThan(1e-5);
    expect((await memory.state('default'))!.lastTimestamp).toBe('2024-05-01T10:00:00Z');
  });

  it('keeps one stream per metadata key value, each in its own order', async () => {
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder));
    const inner = new SimpleVectorStore();
    const vectorStore = new EvolvingVectorStore(inner, { memory, streamKey: 'user' });
    const nodes = nodesOf(turns.slice(0, 12));
    for (const [i, n] of nodes.entries()) {
      n.metadata.user = i % 2 ? 'theo' : 'maya';
      n.excludedEmbedMetadataKeys.push('user');
    }
    expect(await vectorStore.add(nodes)).toEqual(nodes.map((n) => n.id_));
    expect(await memory.store.streams()).toEqual(['maya', 'theo']);
    await expectUninterrupted(inner, turns.slice(0, 12).filter((_, i) => i % 2 === 0));
    await expectUninterrupted(inner, turns.slice(0, 12).filter((_, i) => i % 2 === 1));
  });

  it('refuses a node without a stream before anything is committed', async () => {
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder));
    const vectorStore = new EvolvingVectorStore(new SimpleVectorStore(), { memory, streamKey: 'user' });
    const nodes = nodesOf(turns.slice(0, 3));
    nodes[0]!.metadata.user = 'maya';
    await expect(vectorStore.add(nodes)).rejects.toMatchObject({ name: 'EvomemError', code: 'SEGMENT_INVALID', message: expect.stringContaining('"D1:2"') });
    expect(await memory.store.streams()).toEqual([]);
  });

  it('rejects unusable options with EvomemError', () => {
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder));
    expect(() => new EvolvingVectorStore(new SimpleVectorStore(), { memory, stream: 'a', streamKey: 'user' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => new EvolvingVectorStore({} as BaseVectorStore, { memory })).toThrow(/BaseVectorStore/);
    expect(() => new EvolvingVectorStore(new SimpleVectorStore(), {} as never)).toThrow(/options\.memory/);
  });
});

describe('EvomemRetriever over a vector store', () => {
  it('finds, through evolving embeddings, a turn that only makes sense in context', async () => {
    const { index } = await evolvingIndex();
    await index.insertNodes(nodesOf(turns));
    const plain = await VectorStoreIndex.init({ nodes: nodesOf(turns) });
    const question = "What job did Maya's sister get in Denver?";
    const rank = async (r: EvomemRetriever) => (await r.retrieve(question)).findIndex((h) => h.node.metadata.dia_id === 'D1:9');
    const evolving = new EvomemRetriever({ vectorStore: index, similarityTopK: turns.length });
    const hits = await evolving.retrieve(question);
    expect(hits).toHaveLength(turns.length);
    expect(hits[0]!.node).toBeInstanceOf(TextNode);
    expect(hits[0]!.score!).toBeGreaterThanOrEqual(hits[1]!.score!);
    expect(await rank(evolving)).toBeGreaterThanOrEqual(0);
    expect(await rank(evolving)).toBeLessThan(3);
    expect(await rank(evolving)).toBeLessThan(await rank(new EvomemRetriever({ vectorStore: plain, encoderInstance: encoder, similarityTopK: turns.length })));
  });

  it("queries an evolving store with its memory's query encoding, read out against the stream", async () => {
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder, { queryReadout: true }));
    const { inner, index } = await evolvingIndex({ memory });
    await index.insertNodes(nodesOf(turns));
    const query = vi.spyOn(inner, 'query');
    const question = "What job did Maya's sister get in Denver?";
    await new EvomemRetriever({ vectorStore: index }).retrieve(question);
    const sent = query.mock.calls[0]![0].queryEmbedding;
    expect(maxDiff(sent, await memory.embedQuery(question, 'default'))).toBeLessThan(1e-6);
    expect(maxDiff(sent, await encoder.embedQuery(question))).toBeGreaterThan(1e-3);
  });

  it('queries a plain store with the encoder query encoding, as the index own retriever does', async () => {
    const index = await VectorStoreIndex.init({ nodes: nodesOf(turns) });
    const query = 'What glaze did Maya use on her first bowl?';
    const ours = await new EvomemRetriever({ vectorStore: index, encoderInstance: encoder, similarityTopK: 4 }).retrieve(query);
    const theirs = await index.asRetriever({ similarityTopK: 4 }).retrieve(query);
    expect(ours.map((h) => h.node.id_)).toEqual(theirs.map((h) => h.node.id_));
    ours.forEach((h, i) => expect(h.score).toBeCloseTo(theirs[i]!.score!, 5));
  });

  it('rejects options of its own index and stores whose results carry no nodes', () => {
    const vectorStore = new SimpleVectorStore();
    expect(() => new EvomemRetriever({ vectorStore, mode: 'bm25' })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringContaining('mode') }));
    expect(() => new EvomemRetriever({ vectorStore })).toThrow(/VectorStoreIndex/);
    expect(() => new EvomemRetriever({ stream: 'maya', mode: 'bm25' })).toThrow(/vectorStore/);
  });
});

describe('EvolvingVectorStore durability', () => {
  it('continues a stream after a restart from a SQLite state store and a persisted vector store', async () => {
    const dir = await tempDir();
    const persistDir = join(dir, 'storage');
    const open = async () => {
      const memory = new EvolvingMemory(new EvolvingEncoder(encoder), { store: await openStateStore(`sqlite:${join(dir, 'state.db')}`) });
      const vectorStore = new EvolvingVectorStore(await SimpleVectorStore.fromPersistDir(persistDir), { memory });
      return { memory, storageContext: await storageContextFromDefaults({ persistDir, vectorStores: { TEXT: vectorStore } }) };
    };
    const first = await open();
    await VectorStoreIndex.init({ nodes: nodesOf(turns.slice(0, 11)), storageContext: first.storageContext });
    await first.memory.store.close();

    const second = await open();
    const index = await VectorStoreIndex.init({ storageContext: second.storageContext });
    await index.insertNodes(nodesOf(turns.slice(11)));
    await second.memory.store.close();

    await expectUninterrupted(await SimpleVectorStore.fromPersistDir(persistDir), turns);
    // The restored state matters: the same turns in a fresh stream come out otherwise.
    const fresh = await reference(turns.slice(11));
    const full = await reference(turns);
    expect(maxDiff(Array.from(fresh[0]!), full[11]!)).toBeGreaterThan(1e-3);
  });

  it('surfaces a failed vector write and leaves the stream as it was', async () => {
    const dir = join(await tempDir(), 'vectors');
    await mkdir(dir);
    const { memory, inner, index } = await evolvingIndex({ inner: await SimpleVectorStore.fromPersistDir(dir) });
    await index.insertNodes(nodesOf(turns.slice(0, 5)));
    const before = await memory.store.read('default');

    // The store persists on every add; a file where its folder was makes the write fail.
    await rm(dir, { recursive: true });
    await writeFile(dir, '');
    await expect(index.insertNodes(nodesOf(turns.slice(5, 10)))).rejects.toMatchObject({ name: 'EvomemError', code: 'STORE_UNAVAILABLE', cause: { code: 'ENOTDIR' } });
    const after = await memory.store.read('default');
    expect(after!.version).toBe(before!.version);
    expect(after!.header).toEqual(before!.header);
    expect(await memory.store.segments('default')).toHaveLength(5);

    // Nothing was committed, so inserting the same nodes again succeeds and continues the stream.
    await rm(dir);
    await mkdir(dir);
    await index.insertNodes(nodesOf(turns.slice(5, 10)));
    await expectUninterrupted(inner, turns.slice(0, 10));
  });
});
