import { describe, expect, it } from 'vitest';
import { normalizeInPlace, poolTokens } from './pooling.js';

// Two rows, sequence length 3, width 2. Row 0 has 2 real tokens, row 1 has 3.
const states = Float32Array.from([1, 2, 3, 4, 100, 100, 5, 6, 7, 8, 9, 10]);

describe('poolTokens', () => {
  it('mean-pools only the real tokens of each row', () => {
    expect(Array.from(poolTokens('mean', states, 2, 3, 2, [2, 3]))).toEqual([2, 3, 7, 8]);
  });

  it('takes the first token for cls and the last real token for lastToken', () => {
    expect(Array.from(poolTokens('cls', states, 2, 3, 2, [2, 3]))).toEqual([1, 2, 5, 6]);
    expect(Array.from(poolTokens('lastToken', states, 2, 3, 2, [2, 3]))).toEqual([3, 4, 9, 10]);
  });

  it('gives a zero vector, not NaN, for a row without tokens', () => {
    expect(Array.from(poolTokens('mean', states, 1, 3, 2, [0]))).toEqual([0, 0]);
  });
});

describe('normalizeInPlace', () => {
  it('scales one row of a matrix to unit length and leaves the others', () => {
    const m = Float32Array.from([3, 4, 3, 4]);
    normalizeInPlace(m, 2, 2);
    expect(Array.from(m)).toEqual([3, 4, expect.closeTo(0.6, 6), expect.closeTo(0.8, 6)]);
  });

  it('leaves a zero vector at zero', () => {
    const z = new Float32Array(3);
    normalizeInPlace(z);
    expect(Array.from(z)).toEqual([0, 0, 0]);
  });
});
