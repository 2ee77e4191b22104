import { describe, expect, it } from 'vitest';
import { tinyEncoderForSuite } from '../encoder/fixtures.js';
import { MemoryStateStore } from '../stores/memory.js';
import { EvolvingEncoder } from './EvolvingEncoder.js';
import { EvolvingMemory } from './EvolvingMemory.js';
import type { Segment } from './segments.js';

const encoder = tinyEncoderForSuite();
const turn = (id: string): Segment => ({ id, speaker: 'Maya', session: '1', text: `turn ${id} about pottery` });
const evolving = () => new EvolvingEncoder(encoder(), { capacity: 4 });
const values = (embeddings: Float32Array[]) => embeddings.map((e) => Array.from(e));

describe('EvolvingMemory', () => {
  it('keeps its cached state as committed while an ingest that fails is under way', async () => {
    const memory = new EvolvingMemory(evolving());
    await memory.ingest('s', [turn('a'), turn('b')]);
    let fail!: (error: Error) => void;
    const failing = memory.ingest('s', [turn('c'), turn('d'), turn('e')], { beforeCommit: () => new Promise((_, reject) => (fail = reject)) });
    // Reads at every point of the ingest (queryReadout reads like this) see the committed state.
    const reads: Promise<number | undefined>[] = [];
    for (let tick = 0; tick < 20; tick++) {
      reads.push(memory.state('s').then((state) => state?.turns));
      await Promise.resolve();
    }
    while (!fail) {
      reads.push(memory.state('s').then((state) => state?.turns));
      await new Promise((r) => setTimeout(r, 1));
    }
    expect(new Set(await Promise.all(reads))).toEqual(new Set([2]));
    fail(new Error('the vector store is down'));
    await expect(failing).rejects.toThrow('the vector store is down');
    expect((await memory.state('s'))!.turns).toBe(2);
    const retried = await memory.ingest('s', [turn('c')]);
    expect(retried.firstSeq).toBe(2);
    const reference = await new EvolvingMemory(evolving()).ingest('s', [turn('a'), turn('b'), turn('c')]);
    expect(values(retried.embeddings)).toEqual(values(reference.embeddings.slice(2)));
    // A fresh reader decodes the same stream from the store.
    expect((await new EvolvingMemory(evolving(), { store: memory.store }).state('s'))!.turns).toBe(3);
  });

  it('does not serve a cached state for a stream deleted and made anew elsewhere at the same version', async () => {
    const store = new MemoryStateStore();
    const a = new EvolvingMemory(evolving(), { store });
    const b = new EvolvingMemory(evolving(), { store });
    await a.ingest('s', [turn('a1'), turn('a2')]);
    await store.delete('s');
    await b.ingest('s', [turn('b1'), turn('b2')]);
    const next = await a.ingest('s', [turn('x')]);
    const reference = await new EvolvingMemory(evolving()).ingest('s', [turn('b1'), turn('b2'), turn('x')]);
    expect(values(next.embeddings)).toEqual(values(reference.embeddings.slice(2)));
  });

  it('reuses its cache between ingests, and gives the same embeddings without one', async () => {
    const turns = Array.from({ length: 9 }, (_, i) => turn(`t${i}`));
    const cached = new EvolvingMemory(evolving());
    const uncached = new EvolvingMemory(evolving(), { cachedStreams: 0 });
    const read = (memory: EvolvingMemory) => {
      let reads = 0;
      const original = memory.store.begin.bind(memory.store);
      memory.store.begin = async (stream, known) => {
        const tx = await original(stream, known);
        if (tx.current?.slots) reads++;
        return tx;
      };
      return () => reads;
    };
    const [cachedReads, uncachedReads] = [read(cached), read(uncached)];
    for (let i = 0; i < 9; i += 3) {
      const [x, y] = [await cached.ingest('s', turns.slice(i, i + 3)), await uncached.ingest('s', turns.slice(i, i + 3))];
      expect(values(x.embeddings)).toEqual(values(y.embeddings));
    }
    expect(cachedReads()).toBe(0);
    expect(uncachedReads()).toBe(2);
    expect(() => new EvolvingMemory(evolving(), { cachedStreams: 1.5 })).toThrow(/'cachedStreams' must be an integer >= 0/);
  });
});
