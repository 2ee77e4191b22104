import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryAdapter } from '../adapter/QueryAdapter.js';
import { trainAdapter } from '../adapter/trainAdapter.js';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { EvomemError } from '../errors.js';
import { createRetriever } from '../eval/retrievers.js';
import { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { EvolvingMemory } from '../memory/EvolvingMemory.js';
import { MemoryQueue } from '../memory/MemoryQueue.js';
import { HierarchicalNegativeSampler, type SamplerMessage } from '../sampler/HierarchicalNegativeSampler.js';
import { openSearchIndex, SearchIndex } from '../retrieval/SearchIndex.js';
import { MemoryStateStore } from '../stores/memory.js';
import { openStateStore } from '../stores/openStateStore.js';
import { PostgresStateStore } from '../stores/postgres.js';
import { SqliteStateStore } from '../stores/sqlite.js';
import { exportStreams, importLegacyStream, importStreams } from '../stores/stateFile.js';

// Every public entry point of the memory, search, adapter, sampler and store areas that
// takes options: a misspelt key is refused with the nearest valid key, a wrong-typed value
// with the key and what it takes. Before, both were ignored and defaults silently used.

let model: { dir: string; cleanup: () => Promise<void> };
let encoder: Encoder;
let dir: string;
const messages: SamplerMessage[] = ['my sister moved to denver', 'she got a nurse job', 'theo adopted a greyhound', 'the dog is called bolt'].map((text, i) => ({ id: `m${i}`, text, conversation: 'c', session: '1' }));
const queries = [{ id: 'q0', text: 'where did the sister move', conversation: 'c', evidence: ['m0'] }];
const groups = [{ queryId: 'q0', query: 'where did the sister move', positiveId: 'm0', positive: messages[0]!.text, negativeIds: ['m2'], negatives: [messages[2]!.text], tiers: ['hard' as const] }];

beforeAll(async () => {
  model = await tinyModel();
  encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'evomem-options-'));
});
afterAll(async () => {
  await encoder?.dispose();
  await model?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const evolving = () => new EvolvingEncoder(encoder);
const adapterInit = () => ({ model: { id: 'tiny-bert', fingerprint: 'sha256:x', dimensions: 4 }, projection: { kind: 'low-rank' as const, rank: 1, u: new Float32Array(4), v: new Float32Array(4) } });
const db = () => join(dir, `${Math.random().toString(36).slice(2)}.db`);
// Options objects built loosely, as JavaScript callers and config files pass them.
type Loose = any;

/** Each entry point: a call with a misspelt key (and the key it meant), and a call with a wrong-typed value (and its key). */
const entryPoints: [name: string, typo: () => unknown, meant: string, wrongType: () => unknown, key: string][] = [
  ['new EvolvingEncoder', () => new EvolvingEncoder(encoder, { capacty: 8 } as Loose), 'capacity', () => new EvolvingEncoder(encoder, { latent: 'yes' } as Loose), 'latent'],
  ['new EvolvingEncoder context', () => new EvolvingEncoder(encoder, { context: { turn: 2 } } as Loose), 'turns', () => new EvolvingEncoder(encoder, { context: { combine: 'add' } } as Loose), 'combine'],
  ['EvolvingEncoder.stream', () => evolving().stream('s', { cachedStream: 2 } as Loose), 'cachedStreams', () => evolving().stream('s', { conflictRetries: -1 }), 'conflictRetries'],
  ['new EvolvingMemory', () => new EvolvingMemory(evolving(), { conflictRetry: 2 } as Loose), 'conflictRetries', () => new EvolvingMemory(evolving(), { store: 'sqlite:./x.db' } as Loose), 'store'],
  [
    'EvolvingMemory.ingest',
    () => new EvolvingMemory(evolving()).ingest('s', [{ id: 'a', text: 'hi' }], { beforeComit: async () => {} } as Loose),
    'beforeCommit',
    () => new EvolvingMemory(evolving()).ingest('s', [{ id: 'a', text: 'hi' }], { beforeCommit: true } as Loose),
    'beforeCommit',
  ],
  ['new MemoryQueue', () => new MemoryQueue({ dimension: 4 } as Loose), 'dimensions', () => new MemoryQueue({ dimensions: 4, capacity: '8' } as Loose), 'capacity'],
  ['new SearchIndex', () => new SearchIndex({ encoder, mdoe: 'dense' } as Loose), 'mode', () => new SearchIndex({ encoder, weights: [1] } as Loose), 'weights'],
  ['openSearchIndex', () => openSearchIndex({ mode: 'bm25', backnd: 'evolving' } as Loose), 'backend', () => openSearchIndex({ mode: 'bm25', rrfK: 'sixty' } as Loose), 'rrfK'],
  ['openSearchIndex evolving', () => openSearchIndex({ mode: 'bm25', evolving: { queryReadut: true } } as Loose), 'queryReadout', () => openSearchIndex({ mode: 'bm25', evolving: { capacity: 0 } }), 'capacity'],
  ['trainAdapter', () => trainAdapter(encoder, { messages, groups }, { learningrate: 0.1 } as Loose), 'learningRate', () => trainAdapter(encoder, { messages, groups }, { temperature: 0 }), 'temperature'],
  ['trainAdapter evolving', () => trainAdapter(encoder, { messages, groups }, { evolving: { latnt: false } } as Loose), 'latent', () => trainAdapter(encoder, { messages, groups }, { evolving: 'yes' } as Loose), 'evolving'],
  ['new QueryAdapter', () => new QueryAdapter({ ...adapterInit(), evolvng: null } as Loose), 'evolving', () => new QueryAdapter({ ...adapterInit(), training: 'none' } as Loose), 'training'],
  ['new HierarchicalNegativeSampler', () => new HierarchicalNegativeSampler(messages, queries, { negative: 4 } as Loose), 'negatives', () => new HierarchicalNegativeSampler(messages, queries, { strategy: 'hard' } as Loose), 'strategy'],
  [
    'new HierarchicalNegativeSampler ratios',
    () => new HierarchicalNegativeSampler(messages, queries, { ratios: { hard: 1, medium: 1, esay: 1 } } as Loose),
    'easy',
    () => new HierarchicalNegativeSampler(messages, queries, { ratios: { hard: 1, medium: 'half', easy: 1 } } as Loose),
    'medium',
  ],
  ['SqliteStateStore.open', () => SqliteStateStore.open({ path: db(), synchronus: 'normal' } as Loose), 'synchronous', () => SqliteStateStore.open({ path: db(), busyTimeoutMs: -5 }), 'busyTimeoutMs'],
  [
    'PostgresStateStore.open',
    () => PostgresStateStore.open({ connectionString: 'postgres://u@127.0.0.1:1/db', lockTimeout: 5 } as Loose),
    'lockTimeoutMs',
    () => PostgresStateStore.open({ connectionString: 'postgres://u@127.0.0.1:1/db', maxConnections: 0 }),
    'maxConnections',
  ],
  ['exportStreams', () => exportStreams(new MemoryStateStore(), join(dir, 'x.evomem'), { stream: ['a'] } as Loose), 'streams', () => exportStreams(new MemoryStateStore(), join(dir, 'x.evomem'), { streams: 'a' } as Loose), 'streams'],
  ['importStreams', () => importStreams(new MemoryStateStore(), join(dir, 'x.evomem'), { replce: true } as Loose), 'replace', () => importStreams(new MemoryStateStore(), join(dir, 'x.evomem'), { replace: 'yes' } as Loose), 'replace'],
  [
    'importLegacyStream',
    () => importLegacyStream(new MemoryStateStore(), join(dir, 'x.evomemq'), evolving(), { vectorOut: 'v.jsonl' } as Loose),
    'vectorsOut',
    () => importLegacyStream(new MemoryStateStore(), join(dir, 'x.evomemq'), evolving(), { stream: 7 } as Loose),
    'stream',
  ],
  ['createRetriever', () => createRetriever('dense', { adaptor: './my-adapter' } as Loose), 'adapter', () => createRetriever('hybrid-rrf', { rrfK: -1 }), 'rrfK'],
];

async function invalidOption(run: () => unknown): Promise<string> {
  const error = await Promise.resolve().then(run).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'the options were accepted').toBeInstanceOf(EvomemError);
  expect((error as EvomemError).code).toBe('INVALID_OPTION');
  return (error as EvomemError).message;
}

describe('public options', () => {
  it.each(entryPoints)('%s names a misspelt key and the one it meant', async (_, typo, meant) => {
    expect(await invalidOption(typo)).toMatch(new RegExp(`unknown option '\\w+'\\. Did you mean '${meant}'\\?`));
  });

  it.each(entryPoints)('%s names a wrong-typed key and what it takes', async (_, __, ___, wrongType, key) => {
    expect(await invalidOption(wrongType)).toMatch(new RegExp(`option '${key}' must be .+, got `));
  });

  it('refuses a store address or search call of the wrong type', async () => {
    expect(await invalidOption(() => openStateStore(42 as Loose))).toContain('Unknown state store 42');
    const index = new SearchIndex({ mode: 'bm25' });
    await index.add(['one text']);
    expect(await invalidOption(() => index.search('one', -1))).toContain('k (how many hits) must be an integer >= 0, got -1');
    expect(await invalidOption(() => index.search(7 as Loose, 1))).toContain('the query must be a string, got 7');
    expect(await invalidOption(() => QueryAdapter.load(undefined as Loose))).toContain('QueryAdapter.load takes');
    expect(await invalidOption(() => SqliteStateStore.open({} as Loose))).toContain('SqliteStateStore.open needs path');
  });
});
