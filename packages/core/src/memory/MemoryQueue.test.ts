import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryQueue } from './MemoryQueue.js';

const vec = (...v: number[]) => Float32Array.from(v);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-queue-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('MemoryQueue', () => {
  it('keeps the last `capacity` latents, oldest first, and summarizes the evicted ones by their mean', () => {
    const q = new MemoryQueue({ dimensions: 2, capacity: 3 });
    for (let i = 1; i <= 5; i++) q.push(vec(i, -i), { segmentId: `s${i}` });
    expect(q.size).toBe(3);
    expect([...q.entries()].map((e) => e.meta.segmentId)).toEqual(['s3', 's4', 's5']);
    expect(Array.from(q.matrix())).toEqual([3, -3, 4, -4, 5, -5]);
    expect(q.evicted).toBe(2);
    expect(Array.from(q.evictedSummary)).toEqual([1.5, -1.5]);
  });

  it('grows an unbounded queue without losing order', () => {
    const q = new MemoryQueue({ dimensions: 1, capacity: Infinity });
    for (let i = 0; i < 200; i++) q.push([i], { segmentId: String(i) });
    expect(q.size).toBe(200);
    expect(Array.from(q.matrix())).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(q.evicted).toBe(0);
  });

  it('rejects a latent of the wrong length, and bad options', () => {
    const q = new MemoryQueue({ dimensions: 2 });
    expect(() => q.push([1, 2, 3], { segmentId: 'x' })).toThrow(/holds 2-d latents; got 3 for segment x/);
    expect(() => new MemoryQueue({ dimensions: 2, capacity: 0 })).toThrow(/capacity must be a positive integer or Infinity/);
  });

  it('saves and loads atomically: same latents, metadata, summary and extra state', async () => {
    const q = new MemoryQueue({ dimensions: 3, capacity: 2 });
    q.push(vec(1, 2, 3), { segmentId: 'a', speaker: 'Maya', session: '1', timestamp: '2025-08-14T18:10:00' });
    q.push(vec(4, 5, 6), { segmentId: 'b' });
    q.push(vec(7, 8, 9), { segmentId: 'c', speaker: 'Theo' });
    const path = join(dir, 'q.evomemq');
    await q.save(path, { model: 'm1', extra: { note: 'kept' } });
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const { queue, extra } = await MemoryQueue.load(path, { dimensions: 3, model: 'm1' });
    expect(Array.from(queue.matrix())).toEqual(Array.from(q.matrix()));
    expect([...queue.entries()].map((e) => e.meta)).toEqual([...q.entries()].map((e) => e.meta));
    expect(Array.from(queue.evictedSummary)).toEqual([1, 2, 3]);
    expect(queue.evicted).toBe(1);
    expect(queue.capacity).toBe(2);
    expect(extra).toEqual({ note: 'kept' });
  });

  it('refuses truncated, corrupt, foreign and mismatched files, and leaves them in place', async () => {
    const q = new MemoryQueue({ dimensions: 3 });
    q.push(vec(1, 2, 3), { segmentId: 'a' });
    const path = join(dir, 'good.evomemq');
    await q.save(path, { model: 'm1' });
    const bytes = await readFile(path);

    const truncated = join(dir, 'truncated.evomemq');
    await writeFile(truncated, bytes.subarray(0, bytes.length - 5));
    await expect(MemoryQueue.load(truncated)).rejects.toThrow(/truncated\.evomemq: is truncated or padded.*left as it is/);
    expect((await readFile(truncated)).length).toBe(bytes.length - 5);

    const corrupt = join(dir, 'corrupt.evomemq');
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1] = flipped[flipped.length - 1]! ^ 0xff;
    await writeFile(corrupt, flipped);
    await expect(MemoryQueue.load(corrupt)).rejects.toThrow(/fails its checksum/);

    const foreign = join(dir, 'notes.txt');
    await writeFile(foreign, 'my notes');
    await expect(MemoryQueue.load(foreign)).rejects.toMatchObject({ code: 'STATE_INVALID', message: expect.stringMatching(/is not an evomem memory-queue file/) });

    await expect(MemoryQueue.load(path, { dimensions: 512 })).rejects.toThrow(/holds 3-d latents, but the encoder gives 512-d vectors/);
    await expect(MemoryQueue.load(path, { model: 'other' })).rejects.toThrow(/was written with model m1, not other/);
    await expect(MemoryQueue.load(join(dir, 'missing.evomemq'))).rejects.toThrow(/cannot be read/);
  });
});
