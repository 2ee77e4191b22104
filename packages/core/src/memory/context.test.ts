import { describe, expect, it } from 'vitest';
import { cosine, tinyEncoderForSuite } from '../encoder/fixtures.js';
import { MemoryStateStore } from '../stores/memory.js';
import { refusal } from '../util/expectError.js';
import { ownText } from './context.js';
import { EvolvingEncoder, type EvolvingOptions } from './EvolvingEncoder.js';
import { EvolvingMemory } from './EvolvingMemory.js';
import type { Segment } from './segments.js';

// Context `mix` (the default): one encoder pass per turn, over the turn's own text; the
// context is mixed in from the preceding turns' own embeddings of the same session.

const encoder = tinyEncoderForSuite();
const topics = ['pottery', 'the nurse job', 'moving to denver', 'a new puppy', 'the marathon', 'her sister'];
const turn = (i: number, session: string, text = `turn ${i} about ${topics[i % topics.length]}`): Segment => ({ id: `t${i}`, speaker: i % 2 ? 'Theo' : 'Maya', session, text });
/** Eight turns over three sessions. */
const conversation = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => turn(i, String(1 + Math.floor(i / 3))));
const values = (embeddings: Float32Array[]) => embeddings.map((e) => Array.from(e));

/** Rows and real tokens the encoder ran for `run`. */
async function encoderWork(run: () => Promise<unknown>): Promise<{ rows: number; tokens: number }> {
  const before = encoder().stats;
  await run();
  const after = encoder().stats;
  return { rows: after.rows - before.rows, tokens: after.realTokens - before.realTokens };
}

/** The header's JSON, as a store keeps it. */
const headerJson = (header: Uint8Array) => {
  const bytes = Buffer.from(header);
  return JSON.parse(bytes.toString('utf8', 8, 8 + bytes.readUInt32LE(4))) as { version: number; tailEmbeddings?: number };
};

describe("context 'mix'", () => {
  it('runs the encoder once per turn, over exactly what static embedding reads', async () => {
    const staticWork = await encoderWork(() => encoder().embedDocuments(conversation.map(ownText)));
    const mixWork = await encoderWork(() => new EvolvingEncoder(encoder()).stream('s').ingest(conversation));
    expect(mixWork).toEqual(staticWork);
    // The two-pass mode, for contrast: every turn twice, the first time with its context.
    const sumWork = await encoderWork(() => new EvolvingEncoder(encoder(), { context: { combine: 'sum' } }).stream('s').ingest(conversation));
    expect(sumWork.rows).toBe(2 * staticWork.rows);
    expect(sumWork.tokens).toBeGreaterThan(2 * staticWork.tokens);
  });

  it('stays at one pass per turn when turns arrive one ingest at a time, even read back from the store each time', async () => {
    const staticWork = await encoderWork(() => encoder().embedDocuments(conversation.map(ownText)));
    for (const cachedStreams of [16, 0]) {
      const memory = new EvolvingMemory(new EvolvingEncoder(encoder()), { cachedStreams });
      const work = await encoderWork(async () => {
        for (const t of conversation) await memory.ingest('s', [t]);
      });
      expect(work, `cachedStreams ${cachedStreams}`).toEqual(staticWork);
    }
  });

  it("gives the first turn of a session its static embedding, and takes context only from the turn's own session", async () => {
    const evolving = new EvolvingEncoder(encoder(), { latent: false });
    const statics = await encoder().embedDocuments(conversation.map(ownText));
    const out = await evolving.stream('a').ingest(conversation);
    conversation.forEach((t, i) => {
      const first = i === 0 || conversation[i - 1]!.session !== t.session;
      if (first) expect(cosine(out[i]!, statics[i]!), `${t.id} opens session ${t.session}`).toBeGreaterThan(0.99999);
      else expect(cosine(out[i]!, statics[i]!), `${t.id} reads its context`).toBeLessThan(0.9999);
    });
    // Other words in session 1 change nothing in sessions 2 and 3.
    const rewritten = conversation.map((t, i) => (t.session === '1' ? turn(i, '1', `something else entirely, number ${i}`) : t));
    const other = await evolving.stream('b').ingest(rewritten);
    const later = conversation.flatMap((t, i) => (t.session === '1' ? [] : [i]));
    expect(values(later.map((i) => other[i]!))).toEqual(values(later.map((i) => out[i]!)));
    expect(cosine(other[1]!, out[1]!)).toBeLessThan(0.9999);
  });

  it('moves each turn towards its context as the weight grows, and is static embedding at weight 0', async () => {
    const statics = await encoder().embedDocuments(conversation.map(ownText));
    const at = (weight: number) => new EvolvingEncoder(encoder(), { latent: false, context: { weight } }).stream('s').ingest(conversation);
    const [none, low, high] = [await at(0), await at(0.25), await at(1)];
    none.forEach((v, i) => expect(cosine(v, statics[i]!)).toBeGreaterThan(0.99999));
    // t2 reads t0 and t1 (session 1): the closer to their sum, the higher the weight.
    const context = statics[0]!.map((x, d) => x + statics[1]![d]!);
    expect(cosine(high[2]!, context)).toBeGreaterThan(cosine(low[2]!, context));
    expect(cosine(low[2]!, context)).toBeGreaterThan(cosine(none[2]!, context));
  });

  it('continues from the own embeddings it stored, and embeds them once from a state written without them', async () => {
    const store = new MemoryStateStore();
    const mix = (extra: EvolvingOptions = {}) => new EvolvingMemory(new EvolvingEncoder(encoder(), { capacity: 4, ...extra }), { store, cachedStreams: 0 });
    const uninterrupted = (await new EvolvingMemory(new EvolvingEncoder(encoder(), { capacity: 4 })).ingest('s', conversation)).embeddings;
    const first = await mix().ingest('s', conversation.slice(0, 4));
    expect(headerJson((await store.read('s'))!.header)).toMatchObject({ version: 2, tailEmbeddings: 2 });
    const rest = await mix().ingest('s', conversation.slice(4));
    expect(values([...first.embeddings, ...rest.embeddings])).toEqual(values(uninterrupted));

    // The two-pass mode writes the version every evomem reads, without own embeddings; `mix`
    // continuing from it embeds the two tail turns once, then runs one pass per turn again.
    await mix({ context: { combine: 'sum' } }).ingest('v1', conversation.slice(0, 4));
    expect(headerJson((await store.read('v1'))!.header)).toEqual(expect.not.objectContaining({ tailEmbeddings: expect.anything() }));
    expect(headerJson((await store.read('v1'))!.header).version).toBe(1);
    expect((await encoderWork(() => mix().ingest('v1', conversation.slice(4, 6)))).rows).toBe(2 + 2);
    expect((await encoderWork(() => mix().ingest('v1', conversation.slice(6)))).rows).toBe(2);
  });

  it('refuses context options that are wrong, or that the chosen combine would ignore, naming them', async () => {
    const make = (context: object) => () => new EvolvingEncoder(encoder(), { context } as EvolvingOptions);
    expect((await refusal(make({ weight: -0.5 }))).message).toMatch(/option 'weight' must be a finite number >= 0, got -0\.5/);
    expect((await refusal(make({ weight: '0.5' }))).message).toMatch(/option 'weight' must be a finite number >= 0, got "0\.5"/);
    expect((await refusal(make({ combine: 'mixed' }))).message).toMatch(/option 'combine' must be "mix", "sum" or "concat", got "mixed"/);
    const sumWithWeight = await refusal(make({ combine: 'sum', weight: 0.3 }));
    expect(sumWithWeight).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringMatching(/option 'weight' weighs the context of combine 'mix'; combine 'sum' embeds it as text/) });
    const mixWithBudget = await refusal(make({ maxTokens: 32 }));
    expect(mixWithBudget.message).toMatch(/option 'maxTokens' budgets the text context of combine 'sum' or 'concat'; combine 'mix' \(the default\) reads no context text/);
    expect(make({ combine: 'concat', maxTokens: 32 })).not.toThrow();
  });
});
