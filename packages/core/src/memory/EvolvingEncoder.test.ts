import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { cosine, norm, tinyModel } from '../encoder/fixtures.js';
import { createRetriever } from '../eval/retrievers.js';
import { MemoryStateStore } from '../stores/memory.js';
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

  it("sums the turn's own embedding with its contextual one by default", async () => {
    const stream = new EvolvingEncoder(encoder, { latent: false }).stream('s');
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
    expect(spy).toHaveBeenCalledTimes(2);
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

  it('is registered as the evolving retrievers', async () => {
    for (const name of ['evolving', 'evolving-hybrid']) {
      const r = await createRetriever(name, { encoder: { model: model.dir, device: 'cpu' } });
      const index = await r.index({ id: 'c', units: turns.map((t) => ({ key: t.id, text: `${t.speaker}: ${t.text}`, speaker: t.speaker!, session: t.session! })), questions: [] });
      expect(await index.scores({ id: 'q', text: 'nurse', evidence: ['t3'], category: '4' })).toHaveLength(4);
      await r.dispose();
    }
  });
});
