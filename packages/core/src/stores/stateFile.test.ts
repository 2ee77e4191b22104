import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { EvolvingMemory } from '../memory/EvolvingMemory.js';
import type { Segment } from '../memory/segments.js';
import { MemoryStateStore } from './memory.js';
import { SqliteStateStore } from './sqlite.js';
import { exportStreams, importLegacyStream, importStreams } from './stateFile.js';

let model: { dir: string; cleanup: () => Promise<void> };
let encoder: Encoder;
let dir: string;
const turns = (prefix: string, n: number): Segment[] => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, speaker: i % 2 ? 'Theo' : 'Maya', session: String(i >> 2), text: `${prefix} turn ${i} about pottery` }));
const evolving = () => new EvolvingEncoder(encoder, { capacity: 4 });

beforeAll(async () => {
  model = await tinyModel({ modelMaxLength: 128 });
  encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'evomem-statefile-'));
});
afterAll(async () => {
  await encoder.dispose();
  await model.cleanup();
  await rm(dir, { recursive: true, force: true });
});

describe('exportStreams / importStreams', () => {
  it('moves streams between stores: the next ingest is the same as in the source', async () => {
    const source = new EvolvingMemory(evolving(), { store: new MemoryStateStore() });
    await source.ingest('maya', turns('m', 7));
    await source.ingest('theo', turns('t', 3));
    const path = join(dir, 'backup.evomem');
    const report = await exportStreams(source.store, path);
    expect(report).toMatchObject({ streams: 2, segments: 10 });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);

    const target = await SqliteStateStore.open({ path: join(dir, 'target.db') });
    expect(await importStreams(target, path)).toMatchObject({ streams: 2, segments: 10 });
    expect((await target.segments('maya')).map((e) => e.id)).toEqual(turns('m', 7).map((t) => t.id));
    const next = turns('m', 9).slice(7);
    const moved = await new EvolvingMemory(evolving(), { store: target }).ingest('maya', next);
    const original = await source.ingest('maya', next);
    expect(moved.embeddings.map((e) => Array.from(e))).toEqual(original.embeddings.map((e) => Array.from(e)));
    await expect(importStreams(target, path)).rejects.toMatchObject({ code: 'STATE_INVALID', message: expect.stringMatching(/already has \(maya, theo\); pass replace/) });
    await importStreams(target, path, { replace: true });
    expect(await target.segments('maya')).toHaveLength(7);
    await target.close();
  });

  it('checks every byte: a flipped bit anywhere or a cut file is refused and nothing is imported', async () => {
    const source = new EvolvingMemory(evolving());
    await source.ingest('maya', turns('m', 5));
    const path = join(dir, 'check.evomem');
    await exportStreams(source.store, path);
    const bytes = await readFile(path);
    for (const at of [0, 9, 20, Math.floor(bytes.length / 2), bytes.length - 40, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[at] = flipped[at]! ^ 0x10;
      await writeFile(join(dir, 'flipped.evomem'), flipped);
      const store = new MemoryStateStore();
      await expect(importStreams(store, join(dir, 'flipped.evomem'))).rejects.toMatchObject({ code: 'STATE_INVALID' });
      expect(await store.streams()).toEqual([]);
    }
    await writeFile(join(dir, 'cut.evomem'), bytes.subarray(0, bytes.length - 100));
    await expect(importStreams(new MemoryStateStore(), join(dir, 'cut.evomem'))).rejects.toThrow(/fails its SHA-256|truncated/);
  });

  it('exports a store that is taking ingests as a consistent, importable file', async () => {
    const source = new EvolvingMemory(evolving());
    await source.ingest('busy', turns('b', 3));
    const path = join(dir, 'busy.evomem');
    let writing = true;
    const writer = (async () => {
      for (let i = 3; writing && i < 200; i++) await source.ingest('busy', [{ ...turns('b', i + 1)[i]! }]);
    })();
    const report = await exportStreams(source.store, path);
    writing = false;
    await writer;
    const target = new MemoryStateStore();
    expect(await importStreams(target, path)).toMatchObject({ streams: 1, segments: report.segments });
    expect((await new EvolvingMemory(evolving(), { store: target }).state('busy'))!.turns).toBe(report.segments);
  });

  it('moves a long ledger across file chunks and ledger pages, and replaces a stream in one commit', async () => {
    const memory = new EvolvingMemory(evolving());
    const state = evolving().emptyState();
    const n = 25_000;
    for (let i = 0; i < n; i++) state.queue.push(new Float32Array(encoder.dimensions).fill(i % 7), { segmentId: `long-${i}` });
    state.turns = n;
    const tx = await memory.store.begin('long');
    await tx.commit({ header: state.encodeHeader(), slots: state.encodeSlots(0), segments: Array.from({ length: n }, (_, seq) => ({ id: `long-${seq}`, seq })) });
    const path = join(dir, 'long.evomem');
    expect(await exportStreams(memory.store, path)).toMatchObject({ streams: 1, segments: n });
    const target = new MemoryStateStore();
    const other = new EvolvingMemory(evolving(), { store: target });
    await other.ingest('long', turns('x', 3));
    await importStreams(target, path, { replace: true });
    const ledger = await target.segments('long');
    expect(ledger).toHaveLength(n);
    expect(ledger.at(-1)).toMatchObject({ id: `long-${n - 1}`, seq: n - 1 });
    expect(await target.segments('long', { afterSeq: n - 2 })).toHaveLength(1);
    expect((await other.state('long'))!.turns).toBe(n);
  });

  it('writes under a unique temporary name, and removes what a killed export left', async () => {
    const source = new EvolvingMemory(evolving());
    await source.ingest('maya', turns('m', 2));
    const path = join(dir, 'temps.evomem');
    // A dead process's leftover (pid 2^22 + 1 is above Linux's pid limit, so never alive).
    const stale = `${path}.4194305.0badcafe.tmp`;
    await writeFile(stale, 'half an export');
    await Promise.all([exportStreams(source.store, path), exportStreams(source.store, path)]);
    expect((await readdir(dir)).filter((f) => f.startsWith('temps.evomem.'))).toEqual([]);
    expect(await importStreams(new MemoryStateStore(), path)).toMatchObject({ streams: 1, segments: 2 });
    await expect(exportStreams(source.store, join(dir, 'missing', 'x.evomem'))).rejects.toThrow(/Cannot write .*missing.*folder exists/);
  });
});

describe('importLegacyStream', () => {
  /** A stream file as evomem 0.1's MemoryStream.save wrote it. */
  async function legacyFile(path: string, segments: Segment[], embeddings: Float32Array[], queue: { vectors: Float32Array[]; summary: Float32Array; evicted: number; capacity: number }) {
    const D = encoder.dimensions;
    const payload = Buffer.concat([...queue.vectors, queue.summary].map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength)));
    const header = Buffer.from(
      JSON.stringify({
        version: 1,
        model: model.dir,
        dimensions: D,
        capacity: queue.capacity,
        size: queue.vectors.length,
        evicted: queue.evicted,
        meta: segments.slice(-queue.vectors.length).map((s) => ({ segmentId: s.id, speaker: s.speaker, session: s.session })),
        extra: { format: 'evomem-stream', id: 'maya', segments, embeddings: Buffer.concat(embeddings.map((e) => Buffer.from(e.buffer))).toString('base64'), lastTimestamp: null },
        sha256: createHash('sha256').update(payload).digest('hex'),
      }),
    );
    const length = Buffer.alloc(4);
    length.writeUInt32LE(header.length);
    await writeFile(path, Buffer.concat([Buffer.from('EVOMEMQ1'), length, header, payload]));
  }

  it('moves an 0.1 stream file into a store and writes its vectors out, continuing the stream as before', async () => {
    const memory = new EvolvingMemory(evolving());
    const all = turns('m', 9);
    const first = await memory.ingest('maya', all.slice(0, 6));
    const state = (await memory.state('maya'))!;
    const path = join(dir, 'maya.evomemq');
    await legacyFile(path, all.slice(0, 6), first.embeddings, { vectors: [...state.queue.entries()].map((e) => Float32Array.from(e.vector)), summary: Float32Array.from(state.queue.evictedSummary), evicted: state.queue.evicted, capacity: 4 });

    const store = new MemoryStateStore();
    const vectorsOut = join(dir, 'maya-vectors.jsonl');
    expect(await importLegacyStream(store, path, evolving(), { vectorsOut })).toEqual({ stream: 'maya', segments: 6 });
    const rows = (await readFile(vectorsOut, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Segment & { embedding: number[] });
    expect(rows.map((r) => r.id)).toEqual(all.slice(0, 6).map((s) => s.id));
    expect(rows[5]!.embedding).toEqual(Array.from(first.embeddings[5]!));
    const continued = await new EvolvingMemory(evolving(), { store }).ingest('maya', all.slice(6));
    const uninterrupted = await memory.ingest('maya', all.slice(6));
    expect(continued.embeddings.map((e) => Array.from(e))).toEqual(uninterrupted.embeddings.map((e) => Array.from(e)));
    await expect(importLegacyStream(store, path, evolving())).rejects.toThrow(/which the memory store already has/);

    const corrupt = Buffer.from(await readFile(path));
    corrupt[corrupt.length - 3] = corrupt[corrupt.length - 3]! ^ 1;
    await writeFile(join(dir, 'corrupt.evomemq'), corrupt);
    await expect(importLegacyStream(new MemoryStateStore(), join(dir, 'corrupt.evomemq'), evolving())).rejects.toThrow(/fails its checksum/);
  });
});
