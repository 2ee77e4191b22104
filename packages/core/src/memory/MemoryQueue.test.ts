import { describe, expect, it } from 'vitest';
import { MemoryQueue } from './MemoryQueue.js';

const vec = (...v: number[]) => Float32Array.from(v);

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
    expect(() => new MemoryQueue({ dimensions: 2, capacity: 0 })).toThrow(/'capacity' must be a positive integer or Infinity/);
  });

  it('restores from its entries, summary and eviction count, as a stored state comes back', () => {
    const q = new MemoryQueue({ dimensions: 3, capacity: 2 });
    q.push(vec(1, 2, 3), { segmentId: 'a', speaker: 'Maya', session: '1', timestamp: '2025-08-14T18:10:00' });
    q.push(vec(4, 5, 6), { segmentId: 'b' });
    q.push(vec(7, 8, 9), { segmentId: 'c', speaker: 'Theo' });
    const copy = new MemoryQueue({ dimensions: 3, capacity: 2 });
    copy.restore([...q.entries()], q.evictedSummary, q.evicted);
    expect(Array.from(copy.matrix())).toEqual([4, 5, 6, 7, 8, 9]);
    expect([...copy.entries()].map((e) => e.meta)).toEqual([...q.entries()].map((e) => e.meta));
    expect(Array.from(copy.evictedSummary)).toEqual([1, 2, 3]);
    expect(copy.evicted).toBe(1);
    copy.push(vec(0, 0, 0), { segmentId: 'd' });
    expect(Array.from(copy.evictedSummary)).toEqual([2.5, 3.5, 4.5]);
    expect(() => copy.restore([], q.evictedSummary, 0)).toThrow(/needs an empty queue/);
  });
});
