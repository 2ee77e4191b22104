import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { cosine, norm, tinyModel } from '../encoder/fixtures.js';
import { createRetriever } from '../eval/retrievers.js';
import { defaultEvolvingWeights, EvolvingEncoder, loadEvolvingWeights, saveEvolvingWeights, type Segment } from './EvolvingEncoder.js';

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
    expect(stream.queue.size).toBe(2);
  });

  it('embeds a whole batch in a bounded number of model calls (segment batching)', async () => {
    const spy = vi.spyOn(encoder, 'embedDocuments');
    const many: Segment[] = Array.from({ length: 50 }, (_, i) => ({ id: `m${i}`, speaker: 'Maya', session: String(1 + Math.floor(i / 10)), text: `memory ${i} agent` }));
    await new EvolvingEncoder(encoder).stream('s').ingest(many);
    expect(spy).toHaveBeenCalledTimes(2);
    spy.mockRestore();
  });

  it('rejects a duplicate id or blank text without changing the stream', async () => {
    const stream = new EvolvingEncoder(encoder).stream('maya');
    await stream.ingest(turns.slice(0, 2));
    await expect(stream.ingest([{ id: 'new', text: 'fine' }, { id: 't1', text: 'again' }])).rejects.toThrow(
      /Segment id "t1" \(segments\[1\]\) is already in stream maya; ids are unique per stream/,
    );
    await expect(stream.ingest([{ id: 'blank', text: '  ' }])).rejects.toThrow(/Segment "blank" \(segments\[0\]\) has no text/);
    expect(stream.segments.map((s) => s.id)).toEqual(['t1', 't2']);
    expect(stream.queue.size).toBe(2);
  });

  it('accepts out-of-order timestamps by arrival, with a warning; an unknown speaker is fine', async () => {
    const warnings: string[] = [];
    const stream = new EvolvingEncoder(encoder, { onWarning: (m) => warnings.push(m) }).stream('s');
    await stream.ingest([turns[3]!, { ...turns[0]!, speaker: undefined }]);
    expect(warnings).toEqual(['Segment t1 of stream s is dated 2025-08-14T18:10:00, before 2025-09-02T11:30:00; it is taken in arrival order.']);
    expect(stream.segments.map((s) => s.id)).toEqual(['t4', 't1']);
  });

  it('searches its segments and survives save and load', async () => {
    const evolving = new EvolvingEncoder(encoder);
    const stream = evolving.stream('maya');
    await stream.ingest(turns);
    const hits = await stream.search('what job did she get', 2);
    expect(hits).toHaveLength(2);
    const path = join(dir, 'maya.evomem');
    await stream.save(path);
    const restored = await evolving.loadStream(path);
    expect(restored.segments).toEqual(stream.segments);
    expect(Array.from(await restored.scores('nurse'))).toEqual(Array.from(await stream.scores('nurse')));
    await restored.ingest([{ id: 't5', speaker: 'Theo', session: '2', text: 'memory agent' }]);
    expect(restored.queue.size).toBe(5);
  });

  it('refuses a state file from another model', async () => {
    const path = join(dir, 'other.evomem');
    await new EvolvingEncoder(encoder).stream('x').save(path);
    const other = await tinyModel({ name: 'other-model' });
    const otherEncoder = await Encoder.load({ model: other.dir, device: 'cpu' });
    await expect(new EvolvingEncoder(otherEncoder).loadStream(path)).rejects.toThrow(/was written with model .*tiny-bert, not .*other-model/);
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
