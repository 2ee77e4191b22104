import type { TokenRow } from './TextTokenizer.js';

/** Runs one batch of token rows (right-padded to `seqLen`) and returns pooled vectors `[rows, width]`. */
export type BatchRun = (rows: TokenRow[], seqLen: number) => Promise<Float32Array>;

export interface BatchSchedulerOptions {
  /** Most padded tokens (rows x longest row) in one model call. */
  maxBatchTokens: number;
  /** Most rows in one model call. */
  maxBatchSize: number;
}

/** One `embed` call: its rows, where each row's vector goes, and the caller's promise. */
export interface EmbedJob {
  rows: TokenRow[];
  /** Output index of each row; chunked texts have several rows with one target. */
  target: number[];
  /** Weight of each row when a text's chunks are averaged (its token count), 1 otherwise. */
  weight: number[];
  outputs: number;
  signal?: AbortSignal | undefined;
}

interface LiveJob extends EmbedJob {
  acc: Float32Array;
  weightSum: Float32Array;
  remaining: number;
  settled: boolean;
  onAbort?: () => void;
  resolve: (vectors: Float32Array) => void;
  reject: (reason: unknown) => void;
}

interface QueuedRow {
  job: LiveJob;
  row: number;
  length: number;
}

/**
 * The fixed cost of one model call, in tokens of compute: kernel launches, tensor set-up,
 * and GEMMs too thin to reach full speed. Batches are cut where this is cheaper than the
 * padding a wider batch would need.
 */
export const BATCH_OVERHEAD_TOKENS = 32;

/**
 * Gathers the rows of concurrent `embed` calls, sorts each wave by token length and cuts
 * it into batches under a token budget, so rows of similar length share a batch and
 * padding stays small. Calls made while a wave runs form the next wave. Results go back
 * to each call in its own order; a call whose signal aborts is rejected at once and its
 * remaining rows are skipped.
 */
export class BatchScheduler {
  readonly #run: BatchRun;
  readonly #width: number;
  readonly #options: BatchSchedulerOptions;
  #queue: QueuedRow[] = [];
  #draining = false;

  constructor(run: BatchRun, width: number, options: BatchSchedulerOptions) {
    this.#run = run;
    this.#width = width;
    this.#options = options;
  }

  /** Queues a job; resolves with `[outputs, width]` vectors, each the weighted mean of its rows. */
  submit(job: EmbedJob): Promise<Float32Array> {
    return new Promise<Float32Array>((resolve, reject) => {
      const live: LiveJob = {
        ...job,
        acc: new Float32Array(job.outputs * this.#width),
        weightSum: new Float32Array(job.outputs),
        remaining: job.rows.length,
        settled: false,
        resolve,
        reject,
      };
      if (job.signal?.aborted) return reject(job.signal.reason);
      if (job.rows.length === 0) return resolve(live.acc);
      if (job.signal) {
        live.onAbort = () => this.#settle(live, job.signal?.reason);
        job.signal.addEventListener('abort', live.onAbort, { once: true });
      }
      for (let row = 0; row < job.rows.length; row++) this.#queue.push({ job: live, row, length: job.rows[row]!.length });
      if (!this.#draining) {
        this.#draining = true;
        // Calls issued in the same tick join this wave.
        queueMicrotask(() => void this.#drain());
      }
    });
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const wave = this.#queue.filter((q) => !q.job.settled);
        this.#queue = [];
        wave.sort((a, b) => a.length - b.length);
        for (const batch of this.#buckets(wave)) {
          const live = batch.filter((q) => !q.job.settled);
          if (live.length === 0) continue;
          const seqLen = live[live.length - 1]!.length;
          let pooled: Float32Array;
          try {
            pooled = await this.#run(
              live.map((q) => q.job.rows[q.row]!),
              seqLen,
            );
          } catch (error) {
            for (const q of live) this.#settle(q.job, error);
            continue;
          }
          live.forEach((q, i) => this.#deliver(q, pooled.subarray(i * this.#width, (i + 1) * this.#width)));
        }
      }
    } finally {
      this.#draining = false;
    }
  }

  /**
   * Cuts length-sorted rows into the batches that minimize padded tokens plus
   * BATCH_OVERHEAD_TOKENS per batch, under the token and row caps (dynamic programming
   * over cut points; O(rows x maxBatchSize)).
   */
  #buckets(sorted: QueuedRow[]): QueuedRow[][] {
    const { maxBatchTokens, maxBatchSize } = this.#options;
    const n = sorted.length;
    const cost = new Float64Array(n + 1).fill(Infinity);
    const cut = new Int32Array(n + 1);
    cost[0] = 0;
    for (let end = 1; end <= n; end++) {
      const longest = sorted[end - 1]!.length;
      for (let start = end - 1; start >= 0 && end - start <= maxBatchSize; start--) {
        const padded = (end - start) * longest;
        if (padded > maxBatchTokens && end - start > 1) break;
        const c = cost[start]! + padded + BATCH_OVERHEAD_TOKENS;
        if (c < cost[end]!) {
          cost[end] = c;
          cut[end] = start;
        }
      }
    }
    const batches: QueuedRow[][] = [];
    for (let end = n; end > 0; end = cut[end]!) batches.push(sorted.slice(cut[end]!, end));
    return batches.reverse();
  }

  #deliver(q: QueuedRow, vector: Float32Array): void {
    const job = q.job;
    if (job.settled) return;
    const target = job.target[q.row]!;
    const weight = job.weight[q.row]!;
    const base = target * this.#width;
    for (let d = 0; d < this.#width; d++) job.acc[base + d]! += weight * vector[d]!;
    job.weightSum[target]! += weight;
    if (--job.remaining > 0) return;
    for (let t = 0; t < job.outputs; t++) {
      const w = job.weightSum[t]!;
      if (w === 1) continue;
      for (let d = 0; d < this.#width; d++) job.acc[t * this.#width + d]! /= w;
    }
    this.#finish(job);
    job.resolve(job.acc);
  }

  #settle(job: LiveJob, reason: unknown): void {
    if (job.settled) return;
    this.#finish(job);
    job.reject(reason);
  }

  #finish(job: LiveJob): void {
    job.settled = true;
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
  }
}
