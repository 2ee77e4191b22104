import { describe, expect, it } from 'vitest';
import { BatchScheduler, type BatchRun } from './BatchScheduler.js';
import type { TokenRow } from './TextTokenizer.js';

// The scheduler is pure JS over a `run` callback; these tests give it a deterministic run
// (vector = [first id, row length]) and record every batch it was asked to run.
function recorder(width = 2) {
  const batches: { lengths: number[]; seqLen: number }[] = [];
  const run: BatchRun = async (rows, seqLen) => {
    batches.push({ lengths: rows.map((r) => r.length), seqLen });
    await new Promise((r) => setTimeout(r, 1));
    const out = new Float32Array(rows.length * width);
    rows.forEach((row, i) => {
      out[i * width] = row[0]!;
      out[i * width + 1] = row.length;
    });
    return out;
  };
  return { batches, run };
}

const row = (id: number, length: number): TokenRow => [id, ...Array.from({ length: length - 1 }, () => 1)];
const job = (rows: TokenRow[], signal?: AbortSignal) => ({
  rows,
  target: rows.map((_, i) => i),
  weight: rows.map(() => 1),
  outputs: rows.length,
  signal,
});

describe('BatchScheduler', () => {
  it('returns vectors in input order after sorting rows by length', async () => {
    const { batches, run } = recorder();
    const s = new BatchScheduler(run, 2, { maxBatchTokens: 1000, maxBatchSize: 100 });
    const lengths = [9, 2, 7, 3, 5];
    const out = await s.submit(job(lengths.map((len, i) => row(i + 10, len))));
    expect(Array.from(out)).toEqual(lengths.flatMap((len, i) => [i + 10, len]));
    expect(batches).toHaveLength(1);
    expect(batches[0]!.lengths).toEqual([2, 3, 5, 7, 9]);
    expect(batches[0]!.seqLen).toBe(9);
  });

  it('keeps each batch under the token budget and the row cap', async () => {
    const { batches, run } = recorder();
    const s = new BatchScheduler(run, 2, { maxBatchTokens: 64, maxBatchSize: 5 });
    const lengths = Array.from({ length: 40 }, (_, i) => 1 + ((i * 7) % 16));
    await s.submit(job(lengths.map((len, i) => row(i, len))));
    for (const b of batches) {
      expect(b.lengths.length * b.seqLen).toBeLessThanOrEqual(64);
      expect(b.lengths.length).toBeLessThanOrEqual(5);
    }
    expect(batches.reduce((n, b) => n + b.lengths.length, 0)).toBe(40);
  });

  it('splits a batch rather than pad short rows to a long one', async () => {
    const { batches, run } = recorder();
    const s = new BatchScheduler(run, 2, { maxBatchTokens: 100_000, maxBatchSize: 1000 });
    await s.submit(job([...Array.from({ length: 50 }, (_, i) => row(i, 10)), row(99, 500)]));
    expect(batches.map((b) => b.seqLen)).toEqual([10, 500]);
  });

  it('gathers concurrent calls into shared batches', async () => {
    const { batches, run } = recorder();
    const s = new BatchScheduler(run, 2, { maxBatchTokens: 10_000, maxBatchSize: 1000 });
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => s.submit(job([row(i, 3)]))));
    expect(batches).toHaveLength(1);
    results.forEach((r, i) => expect(Array.from(r)).toEqual([i, 3]));
  });

  it('averages the rows of a chunked text by weight', async () => {
    const { run } = recorder();
    const s = new BatchScheduler(run, 2, { maxBatchTokens: 1000, maxBatchSize: 100 });
    const out = await s.submit({ rows: [row(10, 4), row(20, 2), row(7, 3)], target: [0, 0, 1], weight: [3, 1, 1], outputs: 2 });
    expect(Array.from(out)).toEqual([(3 * 10 + 20) / 4, (3 * 4 + 2) / 4, 7, 3]);
  });

  it('rejects an aborted call at once, skips its rows, and serves the others', async () => {
    const { batches, run } = recorder();
    const s = new BatchScheduler(run, 2, { maxBatchTokens: 4, maxBatchSize: 1 });
    const controller = new AbortController();
    const first = s.submit(job([row(1, 2)]));
    const aborted = s.submit(job([row(2, 3), row(3, 3), row(4, 3)], controller.signal));
    controller.abort(new Error('user cancelled'));
    await expect(aborted).rejects.toThrow('user cancelled');
    expect(Array.from(await first)).toEqual([1, 2]);
    expect(batches.map((b) => b.lengths)).toEqual([[2]]);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const { batches, run } = recorder();
    const s = new BatchScheduler(run, 2, { maxBatchTokens: 100, maxBatchSize: 10 });
    await expect(s.submit(job([row(1, 2)], AbortSignal.abort(new Error('too late'))))).rejects.toThrow('too late');
    expect(batches).toHaveLength(0);
  });

  it('fails every call in a failing batch and keeps serving later calls', async () => {
    let fail = true;
    const { run } = recorder();
    const s = new BatchScheduler(
      async (rows, seqLen) => {
        if (fail) throw new Error('model exploded');
        return run(rows, seqLen);
      },
      2,
      { maxBatchTokens: 100, maxBatchSize: 10 },
    );
    const calls = [s.submit(job([row(1, 2)])), s.submit(job([row(2, 2)]))];
    for (const c of calls) await expect(c).rejects.toThrow('model exploded');
    fail = false;
    expect(Array.from(await s.submit(job([row(5, 2)])))).toEqual([5, 2]);
  });

  it('resolves an empty call with no work', async () => {
    const { batches, run } = recorder();
    const s = new BatchScheduler(run, 2, { maxBatchTokens: 100, maxBatchSize: 10 });
    expect(await s.submit(job([]))).toHaveLength(0);
    expect(batches).toHaveLength(0);
  });
});
