import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder, readDataset, trainAdapter, HierarchicalNegativeSampler, samplerInputFromDataset } from '@evomem/core';
import { EvomemEmbeddings } from '@evomem/langchain';
import { writeBertFolder } from '@evomem/onnx-builder';
import { Memory } from 'mem0ai/oss';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvomemMem0Embedder } from './EvomemMem0Embedder.js';
import { EvomemMemory, evomemMemoryConfig } from './EvomemMemory.js';

type Turn = { speaker: string; dia_id: string; text: string };
const turnsOf = (conversation: Record<string, unknown>) =>
  Object.entries(conversation)
    .filter(([k]) => /^session_\d+$/.test(k))
    .sort(([a], [b]) => Number(a.split('_')[1]) - Number(b.split('_')[1]))
    .flatMap(([, s]) => s as Turn[]);
const sample = JSON.parse(await readFile(new URL('../../../data/sample-conversation.json', import.meta.url), 'utf8'))[0];
const messages = (turns: Turn[]) => turns.map((t) => ({ role: 'user', content: `${t.speaker}: ${t.text}` }));
const SHARED = process.env.EVOMEM_SHARED ?? new URL('../../../../shared', import.meta.url).pathname;

const dotOf = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const expectDescending = (scores: number[]) => scores.forEach((s, i) => i > 0 && expect(s).toBeLessThanOrEqual(scores[i - 1]!));

/** The vectors Mem0 stored, by memory text, read from its own SQLite vector store. */
function mem0Vectors(folder: string): Map<string, Float32Array> {
  const db = new Database(join(folder, 'vector_store.db'), { readonly: true });
  const rows = db.prepare('SELECT vector, payload FROM vectors').all() as { vector: Buffer; payload: string }[];
  db.close();
  return new Map(rows.map((r) => [(JSON.parse(r.payload) as { data: string }).data, new Float32Array(new Uint8Array(r.vector).buffer)]));
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-mem0-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('Mem0 with evomem', () => {
  it('works through the LangChain route config with a plain Memory, offline', async () => {
    const memory = new Memory(await evomemMemoryConfig({ dir: join(dir, 'plain') }));
    await memory.add(messages(turnsOf(sample.conversation)), { userId: 'maya', infer: false });
    const { results } = await memory.search('What kind of dog did Theo adopt?', { filters: { user_id: 'maya' } });
    // Mem0 returns its default 20 of the 28 turns; the one that answers comes first.
    expect(results[0]!.memory).toBe('Theo: By the way, I adopted a dog last weekend. A three-year-old greyhound called Pepper.');
    expectDescending(results.map((r) => r.score!));
    expect(existsSync(join(dir, 'plain', 'vector_store.db'))).toBe(true);
  });

  it("explains Mem0's search score: a blend over the cosine, which the README tells users to threshold on", async () => {
    const memory = new Memory(await evomemMemoryConfig({ dir: join(dir, 'explain') }));
    await memory.add(messages(turnsOf(sample.conversation)), { userId: 'maya', infer: false });
    const query = 'What kind of dog did Theo adopt?';
    const { results } = await memory.search(query, { filters: { user_id: 'maya' }, explain: true } as never);
    const top = results[0] as unknown as { memory: string; score: number; score_details: { semanticScore: number; bm25Score: number; entityBoost: number; maxPossibleScore: number } };
    const d = top.score_details;
    expect(top.score).toBeCloseTo((d.semanticScore + d.bm25Score + d.entityBoost) / d.maxPossibleScore, 6);
    expect(d.maxPossibleScore).toBeGreaterThan(1);
    // The semantic part is the plain cosine of evomem's query and document encodings; this
    // route runs the bare model (no query adapter: Mem0 embeds single adds as queries too).
    const encoder = await Encoder.load({ device: 'cpu', adapter: false });
    const [doc] = await encoder.embedDocuments([top.memory]);
    const cosine = dotOf(await encoder.embedQuery(query), doc!);
    await encoder.dispose();
    expect(d.semanticScore).toBeCloseTo(cosine, 4);
    expect(top.score).toBeLessThan(cosine);
  });

  it('EvomemMemory stores memories with document encodings and searches with query encodings', async () => {
    // A model with distinct query and document prompts, so the two encodings differ.
    const model = join(dir, 'prompted');
    await writeBertFolder(model, {
      config: { vocab_size: 0, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128 },
      prompts: { query: 'what did she say about: ', document: 'memory: ' },
      std: 0.5,
    });
    const memory = await EvomemMemory.create({ dir: join(dir, 'native'), embeddings: { encoder: { model, device: 'cpu' } } });
    expect(memory.evomemEmbedder).toBeDefined();
    const stored = ['the agent will remember last week', 'tomatoes turn red in august', 'my sister moved to denver', 'pepper is a greyhound', 'the pottery class starts on tuesday'];
    for (const text of stored) await memory.add([{ role: 'user', content: text }], { userId: 'u', infer: false });
    const query = 'memory agent';
    const { results } = await memory.search(query, { filters: { user_id: 'u' } });
    // The order Mem0 returns is that of the query encoding against the document encodings,
    // computed here with the encoder itself; the other pairings order the memories otherwise,
    // so a swapped or missing prompt shows.
    const encoder = await Encoder.load({ model, device: 'cpu' });
    const docs = await encoder.embedDocuments(stored);
    const orderBy = (q: Float32Array) => stored.map((text, i) => ({ text, s: dotOf(q, docs[i]!) })).sort((a, b) => b.s - a.s).map((x) => x.text);
    const expected = orderBy(await encoder.embedQuery(query));
    expect(orderBy((await encoder.embedDocuments([query]))[0]!)).not.toEqual(expected);
    await encoder.dispose();
    expect(results.map((r) => r.memory)).toEqual(expected);
    expectDescending(results.map((r) => r.score!));
    // Mem0 embeds more than once per add and search (its entity pass); every
    // one of those calls must be an 'add', and every search call a 'search'.
    expect(memory.evomemEmbedder!.calls.add).toBeGreaterThanOrEqual(1);
    expect(memory.evomemEmbedder!.calls.search).toBeGreaterThanOrEqual(1);
    expect(memory.evomemEmbedder!.calls.unspecified + memory.evomemEmbedder!.calls.update).toBe(0);
  });

  it('maps add and update to document encodings and search to query encodings', async () => {
    const model = join(dir, 'prompted');
    const encoder = await Encoder.load({ model, device: 'cpu' });
    const embedder = new EvomemMem0Embedder(encoder);
    const text = 'the agent will remember last week';
    const [doc] = await encoder.embedDocuments([text]);
    const query = await encoder.embedQuery(text);
    const near = (a: number[], b: Float32Array) => a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
    near(await embedder.embed(text, 'add'), doc!);
    near(await embedder.embed(text, 'update'), doc!);
    near(await embedder.embed(text, 'search'), query);
    near((await embedder.embedBatch([text, text], 'add'))[1]!, doc!);
    near((await embedder.embedBatch([text], 'search'))[0]!, query);
    // The prompts make the two encodings of one text differ.
    expect(Math.abs(doc!.reduce((s, v, i) => s + v * query[i]!, 0) - 1)).toBeGreaterThan(1e-3);
    expect(embedder.embeddingDims).toBe(32);
  });

  it('with evolving, stores each added message with its context-aware embedding, one stream per user', async () => {
    const turns = turnsOf(sample.conversation);
    const question = "What job did Maya's sister get in Denver?";
    const gold = 'Maya: Yes, she got the pediatric nurse position. She starts on the 15th.';
    const rankOf = async (memory: EvomemMemory) => {
      await memory.add(messages(turns), { userId: 'maya', infer: false });
      const { results } = await memory.search(question, { filters: { user_id: 'maya' }, topK: turns.length });
      return results.findIndex((r) => r.memory === gold);
    };
    const evolving = await EvomemMemory.create({ dir: join(dir, 'evolving'), evolving: true });
    const evolvingRank = await rankOf(evolving);
    // Only the added messages enter the stream, in order: not Mem0's entity strings.
    const store = evolving.evolvingMemory!.store;
    expect(await store.segments('maya')).toHaveLength(turns.length);
    expect((await evolving.evolvingMemory!.state('maya'))!.tail.map((s) => s.text)).toEqual(messages(turns.slice(-2)).map((m) => m.content));
    await evolving.add([{ role: 'user', content: 'Theo: Pepper is asleep again.' }], { userId: 'theo', infer: false });
    expect(await store.segments('theo')).toHaveLength(1);
    // A user named only in filters gets a stream of their own, not the shared default one.
    await evolving.add([{ role: 'user', content: 'Lena: I start on the 15th.' }], { filters: { user_id: 'lena' }, infer: false } as never);
    expect(await store.segments('lena')).toHaveLength(1);
    expect(await store.segments('default')).toHaveLength(0);
    expect(await store.segments('maya')).toHaveLength(turns.length);
    expect(existsSync(join(dir, 'evolving', 'evomem-state.db'))).toBe(true);
    await evolving.close();
    // The turn that only makes sense after "my sister is moving to Denver" ranks higher.
    const staticRank = await rankOf(await EvomemMemory.create({ dir: join(dir, 'static') }));
    expect(evolvingRank).toBeGreaterThanOrEqual(0);
    expect(evolvingRank).toBeLessThan(staticRank);
  });

  it('continues each user\'s stream after a restart exactly as if it had never stopped, with its vectors only in Mem0\'s store', async () => {
    const turns = turnsOf(sample.conversation).slice(0, 12);
    const calls = [turns.slice(0, 4), turns.slice(4, 5), turns.slice(5, 9), turns.slice(9)];
    const open = (name: string) => EvomemMemory.create({ dir: join(dir, name), evolving: { capacity: 4 } });
    const uninterrupted = await open('once');
    for (const c of calls) await uninterrupted.add(messages(c), { userId: 'maya', infer: false });
    await uninterrupted.close();
    let restarted = await open('restarted');
    for (const c of calls.slice(0, 2)) await restarted.add(messages(c), { userId: 'maya', infer: false });
    await restarted.close();
    restarted = await open('restarted');
    for (const c of calls.slice(2)) await restarted.add(messages(c), { userId: 'maya', infer: false });

    const once = mem0Vectors(join(dir, 'once'));
    const again = mem0Vectors(join(dir, 'restarted'));
    expect([...again.keys()].sort()).toEqual(messages(turns).map((m) => m.content).sort());
    for (const [text, vector] of once) again.get(text)!.forEach((v, d) => expect(Math.abs(v - vector[d]!)).toBeLessThan(1e-6));
    // The stream keeps its bounded state, not the vectors: a 4-latent queue after 12 turns.
    const state = (await restarted.evolvingMemory!.state('maya'))!;
    expect(state.turns).toBe(12);
    expect(state.queue.size).toBe(4);
    await restarted.close();
  });

  it('leaves the stream as it was when Mem0 fails to store an add', async () => {
    const turns = turnsOf(sample.conversation).slice(0, 6);
    const memory = await EvomemMemory.create({ dir: join(dir, 'failing'), evolving: true });
    await memory.add(messages(turns.slice(0, 3)), { userId: 'maya', infer: false });
    const before = await memory.evolvingMemory!.store.read('maya');
    // Mem0's own vector store goes away under it: a real failure of the real store.
    (memory as unknown as { vectorStore: { db: { close(): void } } }).vectorStore.db.close();
    const embedded = memory.evomemEmbedder!.calls.add;
    await expect(memory.add(messages(turns.slice(3)), { userId: 'maya', infer: false })).rejects.toThrow(/database connection is not open/);
    // The messages did go through the stream (their vectors were made) before Mem0's write failed.
    expect(memory.evomemEmbedder!.calls.add).toBeGreaterThan(embedded);
    expect(await memory.evolvingMemory!.store.read('maya')).toEqual(before);
    expect(await memory.evolvingMemory!.store.segments('maya')).toHaveLength(3);
    await memory.close();
  });

  it('accepts an EvomemEmbeddings already created', async () => {
    const embeddings = await EvomemEmbeddings.create();
    const config = await evomemMemoryConfig({ embeddings, dir: join(dir, 'shared-embeddings') });
    expect(config.vectorStore.config.dimension).toBe(512);
    expect((config.embedder.config as { model: unknown }).model).toBe(embeddings);
  });
});

describe('memory log: training pairs from what Mem0 extracted', () => {
  it('links each extracted memory to the turns it came from, and trains an adapter on them', async () => {
    // No LLM is reachable here, so Mem0's extraction LLM is a scripted one on Mem0's
    // 'langchain' provider (the one mock in this file); the rest is real Mem0: its prompt,
    // parsing, vector store. (LangChain's own FakeListChatModel cannot serve: its messages
    // carry tool_calls: [], which mem0ai 3.3.1 takes for a tool call and drops the text.)
    const facts = [
      ['Maya signed up for a pottery class on Thursdays.'],
      ["Theo adopted a three-year-old greyhound called Pepper.", 'Theo walks Pepper every morning.'],
      ["Maya's sister Lena is moving to Denver for a nurse job."],
    ];
    const replies = facts.map((f) => JSON.stringify({ memory: f.map((text) => ({ text })) }));
    const llm = { invoke: async () => ({ content: replies.shift() ?? '{"memory": []}' }) };
    const log = join(dir, 'memories.jsonl');
    const memory = await EvomemMemory.create({ dir: join(dir, 'logged'), memoryLog: log, config: { llm: { provider: 'langchain', config: { model: llm } } } });
    const turns = turnsOf(sample.conversation);
    const calls = [turns.slice(0, 2), turns.slice(2, 5), turns.slice(5, 7)];
    for (const call of calls) await memory.add(call.map((t) => ({ role: 'user', name: t.speaker, content: t.text })), { userId: 'maya' });
    await memory.add(messages(turns.slice(7, 9)), { userId: 'maya', infer: false });

    const lines = (await readFile(log, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatchObject({ format: 'evomem-memory-log', version: 1, user: 'maya', turns: calls[1]!.map((t) => ({ speaker: t.speaker, text: t.text })) });
    expect(lines[1].memories.map((m: { text: string }) => m.text)).toEqual(facts[1]);

    const dataset = await readDataset(log);
    expect(dataset.format).toBe('memory-log');
    const [corpus] = dataset.corpora;
    expect(corpus!.units).toHaveLength(9);
    // Raw adds (infer: false) store turns verbatim: no new pairs from them.
    expect(dataset.skipped).toEqual({ 'memory is a stored turn': 2 });
    const pepper = corpus!.questions.find((q) => q.text.startsWith('Theo walks'))!;
    expect(pepper.evidence).toEqual(['D2:1', 'D2:2', 'D2:3']);

    const encoder = await Encoder.load({ device: 'cpu' });
    try {
      const input = samplerInputFromDataset(dataset);
      const { groups } = await new HierarchicalNegativeSampler(input.messages, input.queries, { encoder, negatives: 4 }).sample();
      expect(groups.length).toBe(2 + 2 * 3 + 2);
      const { adapter } = await trainAdapter(encoder, { messages: input.messages, groups }, { maxEpochs: 2, validationFraction: 0 });
      expect(adapter.model.id).toBe('@evomem/model-use-lite');
    } finally {
      await encoder.dispose();
    }
  });
});

// CI has ../shared, so there a missing file fails the run; a fresh clone skips and says why.
const LOCOMO = join(SHARED, 'data/locomo/locomo-dev.json');
const hasShared = existsSync(LOCOMO);
if (!hasShared) {
  const reason = `${LOCOMO} not found (the LoCoMo dev data of ../shared). Set EVOMEM_SHARED to the shared folder's path.`;
  if (process.env.CI) throw new Error(`CI must have ../shared: ${reason}`);
  console.warn(`SKIPPED Mem0 on LoCoMo: ${reason}`);
}

describe.skipIf(!hasShared)('Mem0 on a LoCoMo conversation', () => {
  it('returns the evidence turn of a question after adding the whole conversation', async () => {
    const [conv] = JSON.parse(await readFile(join(SHARED, 'data/locomo/locomo-dev.json'), 'utf8'));
    const turns = turnsOf(conv.conversation);
    const memory = await EvomemMemory.create({ dir: join(dir, 'locomo') });
    await memory.add(messages(turns), { userId: conv.sample_id, infer: false });
    const qa = conv.qa.find((q: { evidence: string[]; category: number }) => q.category === 4 && q.evidence.length === 1);
    const gold = turns.find((t) => t.dia_id === qa.evidence[0])!;
    const { results } = await memory.search(qa.question, { filters: { user_id: conv.sample_id }, topK: 10 });
    expect(results.map((r) => r.memory)).toContain(`${gold.speaker}: ${gold.text}`);
  });
});
