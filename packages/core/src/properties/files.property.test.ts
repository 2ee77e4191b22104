import fc from 'fast-check';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryAdapter } from '../adapter/QueryAdapter.js';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { readDataset } from '../eval/readDataset.js';
import { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { EvolvingMemory } from '../memory/EvolvingMemory.js';
import { defaultEvolvingWeights, loadEvolvingWeights, saveEvolvingWeights } from '../memory/readOut.js';
import { StreamState } from '../memory/StreamState.js';
import { MemoryStateStore } from '../stores/memory.js';
import { exportStreams, importStreams } from '../stores/stateFile.js';
import { damaged, expectVectors, resultOrEvomemError, runs } from './harness.js';

// Property suite: files cut short or with flipped bits, read by every public loader. Each
// loads something that works, or throws an EvomemError; a damaged state never reaches a store.
describe('damaged files', () => {
  let root: string;
  let model: { dir: string; cleanup: () => Promise<void> };
  let encoder: Encoder;
  let memory: EvolvingMemory;
  const file = (name: string) => join(root, name);
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'evomem-property-'));
    model = await tinyModel();
    encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
    memory = new EvolvingMemory(new EvolvingEncoder(encoder, { capacity: 8 }));
    const turns = ['Maya: I moved to Denver.', 'Sam: How is the new job?', 'Maya: The nurse position is great.'];
    await memory.ingest('maya', turns.map((text, i) => ({ id: `t${i}`, text, speaker: text.split(':')[0]!, timestamp: `2023-05-0${i + 1}T10:00:00Z` })));
  });
  afterAll(async () => {
    await encoder?.dispose();
    await model?.cleanup();
    await rm(root, { recursive: true, force: true });
  });

  it('adapter files load valid or are refused', { timeout: 300_000 }, async () => {
    const D = encoder.dimensions;
    const rank = 2;
    const values = (n: number, scale: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i) * scale);
    const adapter = new QueryAdapter({ model: await encoder.describeModel(), projection: { kind: 'low-rank', rank, u: values(D * rank, 0.1), v: values(D * rank, 0.2) }, evolving: defaultEvolvingWeights(D) });
    const bytes = new Uint8Array(await readFile(await adapter.save(file('adapter'))));
    const query = await encoder.embed(['what moved?']);
    await fc.assert(
      fc.asyncProperty(damaged(bytes), async (broken) => {
        await writeFile(file('broken-adapter.json'), broken);
        const outcome = await resultOrEvomemError('QueryAdapter.load', () => QueryAdapter.load(file('broken-adapter.json')));
        if (outcome.ok) expectVectors([outcome.value.apply(query[0]!)], D);
        else expect(outcome.error.code).toMatch(/^(STATE_INVALID|MODEL_FILE_INVALID)$/);
      }),
      runs(200),
    );
  });

  it('evolving weights files load valid or are refused', async () => {
    await saveEvolvingWeights(file('weights.json'), defaultEvolvingWeights(encoder.dimensions));
    const bytes = new Uint8Array(await readFile(file('weights.json')));
    await fc.assert(
      fc.asyncProperty(damaged(bytes), async (broken) => {
        await writeFile(file('broken-weights.json'), broken);
        const outcome = await resultOrEvomemError('loadEvolvingWeights', () => loadEvolvingWeights(file('broken-weights.json'), encoder.dimensions));
        if (!outcome.ok) return;
        const w = outcome.value;
        const numbers = [w.temperature, w.gate.scale, w.gate.bias, w.gate.max, ...(w.projection ?? [])];
        expect(numbers.every(Number.isFinite), 'loaded weights hold a non-finite number').toBe(true);
        const evolving = new EvolvingEncoder(encoder, { capacity: 4, weights: w });
        const stream = new EvolvingMemory(evolving).stream('s');
        expectVectors(await stream.ingest([{ id: 'a', text: 'one' }, { id: 'b', text: 'two' }]), encoder.dimensions);
      }),
      runs(200),
    );
  });

  it('a damaged export never reaches the store', { timeout: 300_000 }, async () => {
    const source = new MemoryStateStore();
    await new EvolvingMemory(new EvolvingEncoder(encoder, { capacity: 8 }), { store: source }).ingest('s', [
      { id: 'a', text: 'first' },
      { id: 'b', text: 'second' },
    ]);
    await exportStreams(source, file('backup.evomem'));
    const bytes = new Uint8Array(await readFile(file('backup.evomem')));
    await fc.assert(
      fc.asyncProperty(damaged(bytes), async (broken) => {
        await writeFile(file('broken.evomem'), broken);
        const target = new MemoryStateStore();
        const outcome = await resultOrEvomemError('importStreams', () => importStreams(target, file('broken.evomem')));
        if (!outcome.ok) expect(await target.streams()).toEqual([]);
      }),
      runs(150),
    );
  });

  it('damaged stream state rows are refused on read', async () => {
    const state = (await memory.state('maya'))!;
    const header = state.encodeHeader();
    const slots = new Map(state.encodeSlots(0).map((s) => [s.slot, s.bytes] as const));
    const [firstSlot, firstBytes] = [...slots][0]!;
    await fc.assert(
      fc.asyncProperty(fc.boolean(), damaged(header), damaged(firstBytes), async (inHeader, brokenHeader, brokenSlot) => {
        const rows = new Map(slots);
        if (!inHeader) rows.set(firstSlot, brokenSlot);
        const outcome = await resultOrEvomemError('StreamState.decode', () => StreamState.decode('maya', inHeader ? brokenHeader : header, rows));
        expect(outcome.ok, 'a damaged row decoded without complaint').toBe(false);
        if (!outcome.ok) expect(outcome.error.code).toBe('STATE_INVALID');
      }),
      runs(200),
    );
  });

  it('damaged dataset files read valid or are refused', { timeout: 300_000 }, async () => {
    const bytes = new Uint8Array(await readFile(new URL('../../../../data/sample-conversation.json', import.meta.url)));
    await fc.assert(
      fc.asyncProperty(damaged(bytes), async (broken) => {
        await writeFile(file('broken-data.json'), broken);
        const outcome = await resultOrEvomemError('readDataset', () => readDataset(file('broken-data.json')));
        if (!outcome.ok) expect(outcome.error.code).toBe('DATASET_INVALID');
      }),
      runs(100),
    );
  });
});
