import { describe, expect, it } from 'vitest';
import { rankByScore, reciprocalRankFusion, zScoreFusion } from './fusion.js';

describe('fusion', () => {
  it('ranks by score, ties in index order', () => {
    expect(rankByScore([0.1, 0.5, 0.5, 0.9])).toEqual([3, 1, 2, 0]);
  });

  it('adds 1 / (k + rank) per list (hand-computed, k = 60)', () => {
    const fused = reciprocalRankFusion([
      [3, 2, 1],
      [1, 3, 2],
    ]);
    expect(fused[0]).toBeCloseTo(1 / 61 + 1 / 63, 12);
    expect(fused[1]).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(fused[2]).toBeCloseTo(1 / 63 + 1 / 62, 12);
  });

  it('sums population z-scores, weighted (hand-computed)', () => {
    // [1, 2, 3]: mean 2, population std sqrt(2/3), z = [-sqrt(1.5), 0, sqrt(1.5)].
    // [1, 3, 2]: z = [-sqrt(1.5), sqrt(1.5), 0].
    const r = Math.sqrt(1.5);
    const expectValues = (got: Float64Array, want: number[]) => {
      expect(got).toHaveLength(want.length);
      want.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
    };
    expectValues(zScoreFusion([[1, 2, 3], [1, 3, 2]]), [-2 * r, r, r]);
    expectValues(zScoreFusion([[1, 2, 3], [1, 3, 2]], [2, 1]), [-3 * r, r, 2 * r]);
    // [4, 0, 2, 2]: mean 2, variance (4 + 4 + 0 + 0) / 4 = 2; a constant list adds nothing.
    expectValues(zScoreFusion([[4, 0, 2, 2], [5, 5, 5, 5]]), [Math.SQRT2, -Math.SQRT2, 0, 0]);
    expect(zScoreFusion([[], []])).toHaveLength(0);
  });

  it('sums z-scores, so scales do not matter and a constant list adds nothing', () => {
    const a = zScoreFusion([[10, 20, 30], [0.1, 0.3, 0.2]]);
    const b = zScoreFusion([[1, 2, 3], [1, 3, 2]]);
    Array.from(a).forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 9));
    expect(Array.from(zScoreFusion([[1, 2, 3], [5, 5, 5]]))).toEqual(Array.from(zScoreFusion([[1, 2, 3]])));
  });
});
