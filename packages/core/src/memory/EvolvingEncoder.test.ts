import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { cosine, norm, tinyModel } from '../encoder/fixtures.js';
import { Bm25Index } from '../retrieval/Bm25Index.js';
import { rankByScore } from '../retrieval/fusion.js';
import { createRetriever } from '../eval/retrievers.js';
import { MemoryStateStore } from '../stores/memory.js';
import { SqliteStateStore } from '../stores/sqlite.js';
import { exportStreams, importStreams } from '../stores/stateFile.js';
import { DEFAULT_CONTEXT } from './context.js';
import { EvolvingEncoder } from './EvolvingEncoder.js';
import { EvolvingMemory } from './EvolvingMemory.js';
import { defaultEvolvingWeights, loadEvolvingWeights, saveEvolvingWeights } from './readOut.js';
import type { Segment } from './segments.js';

let model: { dir: string; cleanup: () => Promise<void> };
let encoder: Encoder;
let dir: string;
const turns: Segment[] = [
  { id: 't1', speaker: 'Maya', session: '1', text: 'my sister is moving to denver', timestamp: '2025-08-14T18:10:00' },
  { id: 't2', speaker: 'Theo', session: '1', text: 'what job did she get', timestamp: '2025-08-14T18:11:00' },
  { id: 't3', speaker: 'Maya', session: '1', text: 'she will be a nurse', timestamp: '2025-08-14T18:12:00' },
  { id: 't4', speaker: 'Theo', session: '2', text: 'the agent will remember', timestamp: '2025-09-02T11:30:00' },
];

const dotOf = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const unit = (v: number[]) => {
  const n = Math.sqrt(dotOf(v, v));
  return v.map((x) => x / n);
};
const zScores = (x: number[]) => {
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
  return x.map((y) => (std === 0 ? 0 : (y - mean) / std));
};
const expectSameVectors = (got: Float32Array[], want: Float32Array[]) => {
  expect(got).toHaveLength(want.length);
  got.forEach((v, i) => v.forEach((x, d) => expect(Math.abs(x - want[i]![d]!), `segment ${i}, dimension ${d}`).toBeLessThan(1e-6)));
};

/**
 * The evolving mechanism written out from its definition, for one stream with room for
 * every turn. Each turn's base, with the default `mix`, is normalize(own + 0.5 · normalize(sum
 * of the own embeddings of up to 2 preceding turns of its session)); with `sum`, it is
 * normalize(embed(context + turn) + embed(turn)), the context being up to 2 preceding turns
 * of its session within min(64, maxLength - turn) tokens. The read-out attends (softmax of
 * cosine / temperature) over the bases before it, and g = max * sigmoid(scale * best cosine
 * + bias) of it is added, then normalized.
 */
async function referenceEvolving(enc: Encoder, segments: Segment[], w = defaultEvolvingWeights(enc.dimensions), combine: 'mix' | 'sum' = 'mix'): Promise<Float32Array[]> {
  const own = segments.map((s) => `${s.speaker}: ${s.text}`);
  const preceding = (i: number) => {
    const out: number[] = [];
    for (let j = i - 1; j >= 0 && out.length < 2 && segments[j]!.session === segments[i]!.session; j--) out.push(j);
    return out;
  };
  const alone = await enc.embedDocuments(own);
  const mixed = () =>
    alone.map((v, i) => {
      const context = preceding(i).map((j) => alone[j]!);
      if (context.length === 0) return Array.from(v);
      const c = unit(Array.from(v, (_, d) => context.reduce((acc, e) => acc + e[d]!, 0)));
      return unit(Array.from(v, (x, d) => x + DEFAULT_CONTEXT.weight * c[d]!));
    });
  const summed = async () => {
    const withContext = segments.map((_, i) => {
      const budget = Math.min(64, enc.maxLength - enc.countTokens(own[i]!));
      const context: string[] = [];
      let used = 0;
      for (const j of preceding(i)) {
        used += enc.countTokens(own[j]!);
        if (used > budget) break;
        context.unshift(own[j]!);
      }
      return [...context, own[i]!].join('\n');
    });
    return (await enc.embedDocuments(withContext)).map((v, i) => unit(Array.from(v, (x, d) => x + alone[i]![d]!)));
  };
  const bases = combine === 'mix' ? mixed() : await summed();
  return bases.map((e, i) => {
    const memories = bases.slice(0, i);
    if (memories.length === 0) return Float32Array.from(e);
    const sims = memories.map((m) => dotOf(m, e));
    const best = Math.max(...sims);
    const attention = sims.map((s) => Math.exp((s - best) / w.temperature));
    const total = attention.reduce((a, b) => a + b, 0);
    const g = w.gate.max / (1 + Math.exp(-(w.gate.scale * best + w.gate.bias)));
    return Float32Array.from(unit(e.map((x, d) => x + (g * memories.reduce((acc, m, j) => acc + attention[j]! * m[d]!, 0)) / total)));
  });
}

/** The sample conversation's turns as segments, in order. */
async function sampleConversation(): Promise<Segment[]> {
  const [sample] = JSON.parse(await readFile(new URL('../../../../data/sample-conversation.json', import.meta.url), 'utf8'));
  return Object.entries(sample.conversation as Record<string, unknown>)
    .filter(([key]) => /^session_\d+$/.test(key))
    .sort(([a], [b]) => Number(a.split('_')[1]) - Number(b.split('_')[1]))
    .flatMap(([key, turns]) => (turns as { dia_id: string; speaker: string; text: string }[]).map((t) => ({ id: t.dia_id, speaker: t.speaker, session: key.split('_')[1]!, text: t.text })));
}

beforeAll(async () => {
  // 128 tokens, so two turns of context fit beside a turn of the character-level test tokenizer.
  model = await tinyModel({ modelMaxLength: 128 });
  encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'evomem-evolving-'));
});
afterAll(async () => {
  await encoder.dispose();
  await model.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('EvolvingEncoder', () => {
  it('without context and read-out, gives the static embedding of "speaker: text"', async () => {
    const stream = new EvolvingEncoder(encoder, { context: false, latent: false }).stream('s');
    const out = await stream.ingest(turns);
    const plain = await encoder.embedDocuments(turns.map((t) => `${t.speaker}: ${t.text}`));
    out.forEach((v, i) => expect(cosine(v, plain[i]!)).toBeGreaterThan(0.99999));
  });

  it('gives each turn the preceding turns of its session, never those of another session', async () => {
    const stream = new EvolvingEncoder(encoder, { latent: false, context: { turns: 2, maxTokens: 100, combine: 'concat' } }).stream('s');
    const out = await stream.ingest(turns);
    const expected = await encoder.embedDocuments([
      'Maya: my sister is moving to denver',
      'Maya: my sister is moving to denver\nTheo: what job did she get',
      'Maya: my sister is moving to denver\nTheo: what job did she get\nMaya: she will be a nurse',
      'Theo: the agent will remember',
    ]);
    out.forEach((v, i) => expect(cosine(v, expected[i]!)).toBeGreaterThan(0.99999));
  });

  it("with combine 'sum', sums the turn's own embedding with its contextual one", async () => {
    const stream = new EvolvingEncoder(encoder, { latent: false, context: { combine: 'sum' } }).stream('s');
    const [, second] = await stream.ingest(turns.slice(0, 2));
    const [own, withContext] = await encoder.embedDocuments(['Theo: what job did she get', 'Maya: my sister is moving to denver\nTheo: what job did she get']);
    const sum = own!.map((v, d) => v + withContext![d]!);
    expect(cosine(second!, sum)).toBeGreaterThan(0.99999);
  });

  it('mixes in a gated read-out of the queue, and the first turn has nothing to read', async () => {
    const evolving = new EvolvingEncoder(encoder, { context: false, weights: { ...defaultEvolvingWeights(32), gate: { scale: 0, bias: 10, max: 1 } } });
    const stream = evolving.stream('s');
    const out = await stream.ingest(turns.slice(0, 2));
    const plain = await encoder.embedDocuments(turns.slice(0, 2).map((t) => `${t.speaker}: ${t.text}`));
    expect(cosine(out[0]!, plain[0]!)).toBeGreaterThan(0.99999);
    // Gate ~1 and one memory: the second turn becomes normalize(own + first).
    const mixed = plain[1]!.map((v, d) => v + plain[0]![d]!);
    expect(cosine(out[1]!, mixed)).toBeGreaterThan(0.9999);
    expect(norm(out[1]!)).toBeCloseTo(1, 5);
    expect((await stream.state())!.queue.size).toBe(2);
  });

  it('embeds a whole batch in a bounded number of model calls (segment batching)', async () => {
    const spy = vi.spyOn(encoder, 'embedDocuments');
    const many: Segment[] = Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, speaker: 'Maya', session: String(1 + Math.floor(i / 10)), text: `memory ${i} agent` }));
    await new EvolvingEncoder(encoder).stream('s').ingest(many);
    expect(spy).toHaveBeenCalledTimes(1);
    await new EvolvingEncoder(encoder, { context: { combine: 'sum' } }).stream('s').ingest(many);
    expect(spy).toHaveBeenCalledTimes(3);
    spy.mockRestore();
  });

  it('rejects a duplicate id, blank text or a non-array without changing the stream', async () => {
    const stream = new EvolvingEncoder(encoder).stream('maya');
    await stream.ingest(turns.slice(0, 2));
    await expect(stream.ingest([{ id: 'new', text: 'fine' }, { id: 't1', text: 'again' }])).rejects.toMatchObject({
      code: 'SEGMENT_DUPLICATE',
      message: expect.stringMatching(/Stream maya already holds segment id "t1"; ids are unique per stream/),
    });
    await expect(stream.ingest([{ id: 'blank', text: '  ' }])).rejects.toThrow(/Segment "blank" \(segments\[0\]\) has no text/);
    await expect(stream.ingest([{ id: 'a', text: 'x' }, { id: 'a', text: 'y' }])).rejects.toThrow(/"a" appears twice in one batch/);
    await expect(stream.ingest('hello' as unknown as Segment[])).rejects.toMatchObject({ code: 'SEGMENT_INVALID', message: expect.stringMatching(/takes an array of segments/) });
    expect((await stream.memory.store.segments('maya')).map((e) => e.id)).toEqual(['t1', 't2']);
    expect((await stream.state())!.queue.size).toBe(2);
  });

  it('accepts out-of-order timestamps by arrival, with a warning; an unknown speaker is fine', async () => {
    const warnings: string[] = [];
    const stream = new EvolvingEncoder(encoder, { onWarning: (m) => warnings.push(m) }).stream('s');
    await stream.ingest([turns[3]!, { ...turns[0]!, speaker: undefined }]);
    expect(warnings).toEqual(['Segment t1 of stream s is dated 2025-08-14T18:10:00, before 2025-09-02T11:30:00; it is taken in arrival order.']);
    expect((await stream.memory.store.segments('s')).map((e) => e.id)).toEqual(['t4', 't1']);
  });

  it('keeps a bounded state: the same bytes after 40 turns as after 400', async () => {
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder, { capacity: 16 }));
    const many = (from: number, n: number): Segment[] => Array.from({ length: n }, (_, i) => ({ id: `m${from + i}`, speaker: 'Maya', session: String(from + i), text: `memory ${(from + i) % 7}` }));
    await memory.ingest('s', many(0, 40));
    const at40 = await memory.store.stateBytes('s');
    for (let from = 40; from < 400; from += 90) await memory.ingest('s', many(from, 90));
    const state = (await memory.state('s'))!;
    expect(state.turns).toBe(400);
    expect(state.queue.size).toBe(16);
    expect(state.tail.map((t) => t.id)).toEqual(['m398', 'm399']);
    expect(await memory.store.stateBytes('s')).toBeLessThanOrEqual(at40 + 64);
  });

  it('takes an empty batch without a commit', async () => {
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder));
    expect(await memory.ingest('e', [])).toMatchObject({ embeddings: [], firstSeq: 0, version: 0 });
    await memory.ingest('e', turns.slice(0, 2));
    expect(await memory.ingest('e', [])).toMatchObject({ embeddings: [], firstSeq: 2, version: 1 });
    expect((await memory.store.read('e'))!.version).toBe(1);
  });

  it('refuses a stream state written with another model, naming both', async () => {
    const store = new MemoryStateStore();
    await new EvolvingMemory(new EvolvingEncoder(encoder), { store }).ingest('x', turns.slice(0, 1));
    const other = await tinyModel({ name: 'other-model' });
    const otherEncoder = await Encoder.load({ model: other.dir, device: 'cpu' });
    await expect(new EvolvingMemory(new EvolvingEncoder(otherEncoder), { store }).ingest('x', turns.slice(1, 2))).rejects.toMatchObject({
      code: 'STATE_INVALID',
      message: expect.stringMatching(/Stream state x .*was written with model .*tiny-bert, not .*other-model/),
    });
    await otherEncoder.dispose();
    await other.cleanup();
  });

  it('writes and reads its weights file, checking the dimension', async () => {
    const path = join(dir, 'weights.json');
    await saveEvolvingWeights(path, { ...defaultEvolvingWeights(32), temperature: 0.2 });
    expect((await loadEvolvingWeights(path, 32)).temperature).toBe(0.2);
    await expect(loadEvolvingWeights(path, 512)).rejects.toThrow(/holds 32-d weights; the encoder gives 512-d vectors/);
  });

  it('ranks by the evolving embeddings as the retriever evolving, fused with BM25 as evolving-hybrid', async () => {
    // Units with the turn's text alone: the evolving encoder writes "speaker: text" itself.
    const corpus = { id: 'c', units: turns.map((t) => ({ key: t.id, text: t.text, speaker: t.speaker!, session: t.session! })), questions: [] };
    const texts = corpus.units.map((u) => u.text);
    for (const q of ['nurse', 'Maya: my sister is moving to denver', 'what will the agent remember']) {
      const query = await encoder.embedQuery(q);
      const evolvingScores = (await referenceEvolving(encoder, turns)).map((e) => dotOf(e, query));
      const [bm25, dense] = [zScores(Array.from(new Bm25Index(texts).scores(q))), zScores(evolvingScores)];
      const want = { evolving: evolvingScores, 'evolving-hybrid': bm25.map((b, i) => b + dense[i]!) };
      for (const name of ['evolving', 'evolving-hybrid'] as const) {
        const r = await createRetriever(name, { encoder: { model: model.dir, device: 'cpu' } });
        const got = await (await r.index(corpus)).scores({ id: 'q', text: q, evidence: [], category: '4' });
        want[name].forEach((v, i) => expect(got[i], `${name} on ${q}: unit ${i}`).toBeCloseTo(v, 5));
        expect(rankByScore(got), `${name} on ${q}`).toEqual(rankByScore(want[name]));
        await r.dispose();
      }
    }
    // The two-pass mode, as defined.
    const summed = await createRetriever('evolving', { encoder: { model: model.dir, device: 'cpu' }, evolving: { context: { combine: 'sum' } } });
    const sumScores = await (await summed.index(corpus)).scores({ id: 'q', text: 'nurse', evidence: [], category: '4' });
    const nurse = await encoder.embedQuery('nurse');
    (await referenceEvolving(encoder, turns, undefined, 'sum')).forEach((e, i) => expect(sumScores[i], `sum: unit ${i}`).toBeCloseTo(dotOf(e, nurse), 5));
    await summed.dispose();
    // Without context and read-out, a turn's own "speaker: text" as the query finds that turn first.
    const plain = await createRetriever('evolving', { encoder: { model: model.dir, device: 'cpu' }, evolving: { context: false, latent: false } });
    const scores = await (await plain.index(corpus)).scores({ id: 'q', text: 'Maya: she will be a nurse', evidence: ['t3'], category: '4' });
    expect(rankByScore(scores)[0]).toBe(2);
    expect(scores[2]).toBeCloseTo(1, 5);
    await plain.dispose();
  });

  it('loads an evolving weights file as the retriever evolving --adapter, and its scores follow them', async () => {
    const path = join(dir, 'retriever-weights.json');
    // A wide-open gate and soft attention: far from the defaults, so the scores must move.
    const weights = { ...defaultEvolvingWeights(32), temperature: 0.5, gate: { scale: 0, bias: 10, max: 1 } };
    await saveEvolvingWeights(path, weights);
    const corpus = { id: 'c', units: turns.map((t) => ({ key: t.id, text: t.text, speaker: t.speaker!, session: t.session! })), questions: [] };
    const question = { id: 'q', text: 'what job did she get', evidence: ['t3'], category: '4' };
    const scoresOf = async (adapter?: string) => {
      const r = await createRetriever('evolving', { encoder: { model: model.dir, device: 'cpu' }, ...(adapter ? { adapter } : {}) });
      const scores = Array.from(await (await r.index(corpus)).scores(question));
      await r.dispose();
      return scores;
    };
    const [withFile, without] = [await scoresOf(path), await scoresOf()];
    const query = await encoder.embedQuery(question.text);
    (await referenceEvolving(encoder, turns, weights)).forEach((e, i) => expect(withFile[i]).toBeCloseTo(dotOf(e, query), 5));
    (await referenceEvolving(encoder, turns)).forEach((e, i) => expect(without[i]).toBeCloseTo(dotOf(e, query), 5));
    // The first turn reads nothing either way; every later one moves.
    expect(withFile[0]).toBeCloseTo(without[0]!, 6);
    for (let i = 1; i < turns.length; i++) expect(Math.abs(withFile[i]! - without[i]!), `turn ${i}`).toBeGreaterThan(1e-4);
  });

  it.each(['mix', 'sum'] as const)('continues a stream reopened from its SQLite file, or restored from an export, exactly as one never stopped (combine %s)', async (combine) => {
    const conversation = await sampleConversation();
    // Cut inside session 2, so the context of the first turns after the restart is from before it.
    const cut = conversation.findIndex((t) => t.session === '2') + 3;
    const evolving = () => new EvolvingEncoder(encoder, { capacity: 8, context: { combine }, onWarning: () => {} });
    const uninterrupted = (await new EvolvingMemory(evolving()).ingest('maya', conversation)).embeddings;
    // Past the queue's 8 slots before the cut: the evicted-turn summary must survive the restart too.
    expect(cut).toBeGreaterThan(8);

    const path = join(dir, `restart-${combine}.db`);
    let store = await SqliteStateStore.open({ path });
    const before: Float32Array[] = [];
    // Several ingests before the restart, each from a fresh memory on the store.
    for (const [from, to] of [[0, 5], [5, cut]] as const) before.push(...(await new EvolvingMemory(evolving(), { store }).ingest('maya', conversation.slice(from, to))).embeddings);
    const backup = join(dir, `restart-${combine}.evomem`);
    await exportStreams(store, backup);
    await store.close();

    store = await SqliteStateStore.open({ path });
    const after = (await new EvolvingMemory(evolving(), { store }).ingest('maya', conversation.slice(cut))).embeddings;
    expectSameVectors([...before, ...after], uninterrupted);
    expect((await new EvolvingMemory(evolving(), { store }).state('maya'))!.turns).toBe(conversation.length);
    await store.close();

    const restored = await SqliteStateStore.open({ path: join(dir, `restored-${combine}.db`) });
    await importStreams(restored, backup);
    const afterImport = (await new EvolvingMemory(evolving(), { store: restored }).ingest('maya', conversation.slice(cut))).embeddings;
    expectSameVectors([...before, ...afterImport], uninterrupted);
    await restored.close();
  });

});
