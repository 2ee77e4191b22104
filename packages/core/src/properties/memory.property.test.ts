import fc from 'fast-check';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { trainAdapter } from '../adapter/trainAdapter.js';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { readDataset } from '../eval/readDataset.js';
import { EvolvingEncoder, type EvolvingOptions } from '../memory/EvolvingEncoder.js';
import { EvolvingMemory, type EvolvingMemoryOptions } from '../memory/EvolvingMemory.js';
import { HierarchicalNegativeSampler, type SamplerOptions } from '../sampler/HierarchicalNegativeSampler.js';
import { SearchIndex, type SearchIndexOptions } from '../retrieval/SearchIndex.js';
import { MemoryStateStore } from '../stores/memory.js';
import { openStateStore } from '../stores/openStateStore.js';
import { anyText, anyValue, expectVectors, optionObjects, resultOrEvomemError, runs } from './harness.js';

// Property suite: random segments, queries and option objects into the memory, search,
// sampler, trainer and store entry points. Each returns or throws an EvomemError.
const dates = fc.oneof(
  fc.date({ noInvalidDate: true, min: new Date('1990-01-01'), max: new Date('2090-01-01') }).map((d) => d.toISOString()),
  fc.constantFrom('1:56 pm on 8 May, 2023', '2023-05-08T13:56:00+02:00', '2023/05/20 (Sat) 02:21', 'not a date', '', '2023-13-45'),
  fc.string({ maxLength: 20 }),
);
const segment = fc.record(
  { id: fc.oneof(fc.string({ maxLength: 8 }), anyValue), text: fc.oneof(anyText, anyValue), speaker: fc.oneof(fc.string({ maxLength: 8 }), anyValue), session: fc.oneof(fc.string({ maxLength: 4 }), anyValue), timestamp: fc.oneof(dates, anyValue) },
  { requiredKeys: [] },
);

describe('memory, search and training under any input', () => {
  let root: string;
  let model: { dir: string; cleanup: () => Promise<void> };
  let encoder: Encoder;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'evomem-property-'));
    model = await tinyModel();
    encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
  });
  afterAll(async () => {
    await encoder?.dispose();
    await model?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('ingests any batch, or refuses it whole', { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.array(segment, { maxLength: 6 }), anyValue), fc.array(segment, { maxLength: 3 }), async (batch, next) => {
        const memory = new EvolvingMemory(new EvolvingEncoder(encoder, { capacity: 4, onWarning: () => {} }));
        const stream = memory.stream('s');
        const first = await resultOrEvomemError('MemoryStream.ingest', () => stream.ingest(batch as never));
        if (first.ok) expectVectors(first.value, encoder.dimensions);
        else expect(await stream.state(), 'a refused batch left state behind').toBeNull();
        const second = await resultOrEvomemError('MemoryStream.ingest', () => stream.ingest(next as never));
        if (second.ok) expectVectors(second.value, encoder.dimensions);
        const query = await resultOrEvomemError('embedQuery', () => stream.embedQuery(typeof next[0]?.text === 'string' ? next[0].text : 'q'));
        if (query.ok) expectVectors([query.value], encoder.dimensions);
      }),
      runs(80),
    );
  });

  it('constructs evolving encoders and memories from any options', { timeout: 300_000 }, async () => {
    const evolvingOptions = {
      // Per mode, so most generated contexts are valid: `weight` is for mix, `maxTokens` for text context.
      context: fc.oneof(
        fc.constant(false as const),
        fc.record({ turns: fc.integer({ min: 0, max: 4 }), combine: fc.constant('mix'), weight: fc.double({ min: 0, max: 2, noNaN: true }) }, { requiredKeys: [] }),
        fc.record({ turns: fc.integer({ min: 0, max: 4 }), maxTokens: fc.integer({ min: 1, max: 64 }), combine: fc.constantFrom('concat', 'sum') }, { requiredKeys: ['combine'] }),
      ),
      latent: fc.boolean(),
      capacity: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.constant(Infinity)),
      queryReadout: fc.boolean(),
      onWarning: fc.constant(() => {}),
      weights: fc.record({ temperature: fc.double({ min: 0.01, max: 1, noNaN: true }) }).map(({ temperature }) => ({ format: 'evomem-evolving-weights', version: 1, dimensions: 32, temperature, gate: { scale: 10, bias: -5, max: 0.5 }, projection: null })),
    };
    const memoryOptions = { store: fc.constant(null).map(() => new MemoryStateStore()), cachedStreams: fc.integer({ min: 0, max: 4 }), conflictRetries: fc.integer({ min: 0, max: 4 }) };
    await fc.assert(
      fc.asyncProperty(optionObjects(evolvingOptions), optionObjects(memoryOptions), async (eo, mo) => {
        const evolving = await resultOrEvomemError('new EvolvingEncoder', () => new EvolvingEncoder(encoder, { onWarning: () => {}, ...eo } as EvolvingOptions));
        if (!evolving.ok) return;
        const memory = await resultOrEvomemError('new EvolvingMemory', () => new EvolvingMemory(evolving.value, mo as EvolvingMemoryOptions));
        if (!memory.ok) return;
        const out = await resultOrEvomemError('ingest', () => memory.value.ingest('s', [{ id: 'a', text: 'hello there' }, { id: 'b', text: 'general kenobi' }]));
        expect(out.ok, 'valid options must give a working memory').toBe(true);
        if (out.ok) expectVectors(out.value.embeddings, encoder.dimensions);
      }),
      runs(80),
    );
  });

  it('searches with any options, query and k', { timeout: 300_000 }, async () => {
    const valid = {
      encoder: fc.constant(encoder),
      mode: fc.constantFrom('dense', 'bm25', 'hybrid'),
      fusion: fc.constantFrom('zscore', 'rrf'),
      weights: fc.tuple(fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true })),
      rrfK: fc.integer({ min: 1, max: 100 }),
      bm25: fc.record({ k1: fc.double({ min: 0, max: 3, noNaN: true }), b: fc.double({ min: 0, max: 1, noNaN: true }) }, { requiredKeys: [] }),
    };
    await fc.assert(
      fc.asyncProperty(optionObjects(valid), fc.array(anyText, { maxLength: 5 }), anyText, fc.oneof(fc.integer({ min: -2, max: 10 }), anyValue), async (options, texts, query, k) => {
        const index = await resultOrEvomemError('new SearchIndex', () => new SearchIndex(options as SearchIndexOptions));
        if (!index.ok) return;
        if (!(await resultOrEvomemError('SearchIndex.add', () => index.value.add(texts))).ok) return;
        const hits = await resultOrEvomemError('SearchIndex.search', () => index.value.search(query, k as number));
        if (!hits.ok) return;
        expect(hits.value.length).toBeLessThanOrEqual(texts.length);
        for (const hit of hits.value) expect(Number.isFinite(hit.score), `score ${hit.score}`).toBe(true);
      }),
      runs(80),
    );
  });

  it('samples and trains from any options', { timeout: 600_000 }, async () => {
    const messages = Array.from({ length: 12 }, (_, i) => ({ id: `m${i}`, text: `turn ${i} about ${['dogs', 'work', 'moving'][i % 3]}`, conversation: `c${i % 2}`, speaker: i % 2 ? 'A' : 'B', session: `s${i % 3}` }));
    const queries = Array.from({ length: 6 }, (_, i) => ({ id: `q${i}`, text: `what about ${['dogs', 'work', 'moving'][i % 3]}?`, conversation: `c${i % 2}`, evidence: [`m${i}`] }));
    const samplerOptions = {
      negatives: fc.integer({ min: 1, max: 6 }),
      ratios: fc.record({ hard: fc.double({ min: 0, max: 1, noNaN: true }), medium: fc.double({ min: 0, max: 1, noNaN: true }), easy: fc.double({ min: 0, max: 1, noNaN: true }) }),
      duplicateThreshold: fc.double({ min: 0.5, max: 1, noNaN: true }),
      conversationsPerBatch: fc.integer({ min: 1, max: 4 }),
      topicSize: fc.integer({ min: 1, max: 12 }),
      seed: fc.integer({ min: 1, max: 9 }),
      strategy: fc.constantFrom('tiered', 'random'),
    };
    const trainOptions = {
      projection: fc.constantFrom('low-rank', 'linear'),
      rank: fc.integer({ min: 1, max: 4 }),
      temperature: fc.double({ min: 0.01, max: 1, noNaN: true }),
      queueSize: fc.integer({ min: 0, max: 16 }),
      batchSize: fc.integer({ min: 1, max: 8 }),
      maxEpochs: fc.integer({ min: 1, max: 2 }),
      learningRate: fc.double({ min: 1e-4, max: 0.1, noNaN: true }),
      validationFraction: fc.double({ min: 0, max: 0.5, noNaN: true }),
      patience: fc.integer({ min: 1, max: 3 }),
      seed: fc.integer({ min: 1, max: 9 }),
      evolving: fc.boolean(),
    };
    await fc.assert(
      fc.asyncProperty(optionObjects(samplerOptions), optionObjects(trainOptions), async (so, to) => {
        const sampler = await resultOrEvomemError('new HierarchicalNegativeSampler', () => new HierarchicalNegativeSampler(messages, queries, { ...(so as SamplerOptions), encoder }));
        if (!sampler.ok) return;
        const sampled = await resultOrEvomemError('sample', () => sampler.value.sample());
        if (!sampled.ok) return;
        // Training time grows with maxEpochs; a valid huge value is slow, not wrong.
        if (typeof to.maxEpochs === 'number' && to.maxEpochs > 2) to.maxEpochs = 2;
        const trained = await resultOrEvomemError('trainAdapter', () => trainAdapter(encoder, { messages, groups: sampled.value.groups }, to), 60_000);
        if (trained.ok) expectVectors([trained.value.adapter.apply((await encoder.embed(['q']))[0]!)], encoder.dimensions);
      }),
      runs(25),
    );
  });

  it('opens stores and reads datasets from any string or options', { timeout: 120_000 }, async () => {
    const where = fc.oneof(
      fc.string({ maxLength: 12 }).map((name) => `sqlite:${join(root, name.replace(/\//g, '_'))}.db`),
      fc.constantFrom('memory:', ':memory:', 'postgres://u:p@127.0.0.1:9/db', 'sqlite:', 'redis://x', '', 'x.db/'),
      anyValue,
    );
    await fc.assert(
      fc.asyncProperty(where, optionObjects({ format: fc.constantFrom('locomo', 'longmemeval', 'memory-log'), unit: fc.constantFrom('turn', 'session', 'observation'), includeAdversarial: fc.boolean() }), async (w, datasetOptions) => {
        const store = await resultOrEvomemError('openStateStore', () => openStateStore(w as string));
        if (store.ok) await store.value.close();
        await resultOrEvomemError('readDataset', () => readDataset(new URL('../../../../data/sample-conversation.json', import.meta.url).pathname, datasetOptions));
      }),
      runs(60),
    );
  });
});
