import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyEncoderForSuite } from '../encoder/fixtures.js';
import { MemoryStateStore } from '../stores/memory.js';
import { SqliteStateStore } from '../stores/sqlite.js';
import type { StateStore } from '../stores/StateStore.js';
import { EvolvingEncoder } from './EvolvingEncoder.js';
import { EvolvingMemory, type IngestResult } from './EvolvingMemory.js';
import type { Segment } from './segments.js';

// Two ingests into one stream at once, in one process, with overlapping segment ids: the
// first to commit takes its whole batch, the other is refused whole (SEGMENT_DUPLICATE),
// and no id is ever stored twice.

const encoder = tinyEncoderForSuite();
const turn = (id: string): Segment => ({ id, speaker: 'Maya', session: '1', text: `turn ${id} about pottery` });
const evolving = () => new EvolvingEncoder(encoder(), { capacity: 4, onWarning: () => {} });
const values = (embeddings: Float32Array[]) => embeddings.map((e) => Array.from(e));

let dir: string;
let files = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-concurrent-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const stores: Record<string, () => Promise<StateStore>> = {
  memory: async () => new MemoryStateStore(),
  sqlite: () => SqliteStateStore.open({ path: join(dir, `state-${files++}.db`) }),
};

/** Runs the batches at once; returns each outcome, in batch order. */
async function race(ingest: (batch: Segment[]) => Promise<IngestResult>, batches: string[][]) {
  return Promise.allSettled(batches.map((ids) => ingest(ids.map(turn))));
}

/** Checks the outcome of a race: each batch whole or refused for a duplicate, the ledger the taken batches in commit order, no id twice. */
async function checkRace(store: StateStore, before: string[], batches: string[][], outcomes: PromiseSettledResult<IngestResult>[]) {
  const taken = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [{ ids: batches[i]!, result: o.value }] : []));
  for (const o of outcomes) {
    if (o.status === 'rejected') expect(o.reason).toMatchObject({ code: 'SEGMENT_DUPLICATE' });
  }
  taken.sort((a, b) => a.result.firstSeq - b.result.firstSeq);
  const ledger = (await store.segments('s')).map((e) => e.id);
  expect(ledger).toEqual([...before, ...taken.flatMap((t) => t.ids)]);
  expect(new Set(ledger).size).toBe(ledger.length);
  // Each refused batch shares an id with one taken: none was refused without cause.
  outcomes.forEach((o, i) => {
    if (o.status === 'rejected') expect(batches[i]!.some((id) => ledger.includes(id))).toBe(true);
  });
  // The taken batches' embeddings are those of a sequential run in commit order.
  const reference = new EvolvingMemory(evolving());
  await reference.ingest('s', before.map(turn));
  for (const t of taken) expect(values(t.result.embeddings)).toEqual(values((await reference.ingest('s', t.ids.map(turn))).embeddings));
  return { taken, ledger };
}

describe.each(Object.keys(stores))('concurrent ingests into one stream, %s store', (kind) => {
  it('takes one of two batches that share an id and refuses the other whole, naming the id', async () => {
    const store = await stores[kind]!();
    const memory = new EvolvingMemory(evolving(), { store });
    await memory.ingest('s', [turn('a')]);
    const batches = [['b', 'c'], ['c', 'd']];
    const outcomes = await race((batch) => memory.ingest('s', batch), batches);
    const { taken } = await checkRace(store, ['a'], batches, outcomes);
    expect(taken).toHaveLength(1);
    expect(outcomes.find((o) => o.status === 'rejected')).toMatchObject({ reason: { message: expect.stringContaining('"c"') } });
    expect((await memory.state('s'))!.turns).toBe(3);
    await store.close();
  });

  it('holds through two stream handles, and through two memories on one store', async () => {
    const store = await stores[kind]!();
    const memory = new EvolvingMemory(evolving(), { store });
    const [x, y] = [memory.stream('s'), memory.stream('s')];
    const batches = [['a', 'b'], ['b', 'c']];
    await checkRace(store, [], batches, await race((batch) => (batch[0]!.id === 'a' ? x : y).ingestTraced(batch), batches));
    const before = (await store.segments('s')).map((e) => e.id);
    const other = new EvolvingMemory(evolving(), { store });
    const next = [['d', 'e'], ['e', 'f']];
    const outcomes = await race((batch) => (batch[0]!.id === 'd' ? memory : other).ingest('s', batch), next);
    const { taken } = await checkRace(store, before, next, outcomes);
    expect(taken).toHaveLength(1);
    await store.close();
  });

  it('never stores an id twice among many concurrent batches with overlapping ids', async () => {
    const store = await stores[kind]!();
    const memory = new EvolvingMemory(evolving(), { store });
    const other = new EvolvingMemory(evolving(), { store });
    // Batch i holds ids i..i+2 of 12: each overlaps its two neighbours on each side.
    const batches = Array.from({ length: 10 }, (_, i) => [i, i + 1, i + 2].map((n) => `m${n}`));
    const outcomes = await race((batch) => (Number(batch[0]!.id.slice(1)) % 2 ? other : memory).ingest('s', batch), batches);
    const { taken, ledger } = await checkRace(store, [], batches, outcomes);
    expect(taken.length).toBeGreaterThan(0);
    expect(taken.length).toBeLessThan(batches.length);
    expect((await memory.state('s'))!.turns).toBe(ledger.length);
    await store.close();
  });
});
