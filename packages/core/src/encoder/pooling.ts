import type { PoolingMode } from './modelFolder.js';

/**
 * Pools right-padded token states `[rows, seqLen, width]` into `[rows, width]`. `lengths[r]`
 * is row r's count of real tokens; padding is never read. Plain typed-array loops: no
 * per-token allocation, no BigInt mask conversion.
 */
export function poolTokens(
  mode: PoolingMode,
  states: Float32Array,
  rows: number,
  seqLen: number,
  width: number,
  lengths: ArrayLike<number>,
): Float32Array {
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++) {
    const len = lengths[r] ?? 0;
    const rowBase = r * seqLen * width;
    const dst = r * width;
    if (mode === 'mean') {
      for (let t = 0; t < len; t++) {
        const src = rowBase + t * width;
        for (let d = 0; d < width; d++) out[dst + d]! += states[src + d]!;
      }
      const scale = 1 / Math.max(len, 1);
      for (let d = 0; d < width; d++) out[dst + d]! *= scale;
    } else {
      const t = mode === 'cls' ? 0 : Math.max(len - 1, 0);
      out.set(states.subarray(rowBase + t * width, rowBase + (t + 1) * width), dst);
    }
  }
  return out;
}

/** Scales `vector[offset .. offset + width)` to unit length in place (zero vectors stay zero). */
export function normalizeInPlace(vector: Float32Array, offset = 0, width = vector.length - offset): void {
  let sum = 0;
  for (let d = 0; d < width; d++) sum += vector[offset + d]! * vector[offset + d]!;
  if (sum === 0) return;
  const scale = 1 / Math.sqrt(sum);
  for (let d = 0; d < width; d++) vector[offset + d]! *= scale;
}
