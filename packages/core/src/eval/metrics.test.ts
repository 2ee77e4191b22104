import { describe, expect, it } from 'vitest';
import { meanMetrics, scoreRanking } from './metrics.js';

describe('scoreRanking', () => {
  // Ranking a x b y c; evidence b c z (z never retrieved).
  const m = scoreRanking(['a', 'x', 'b', 'y', 'c'], ['b', 'c', 'z'], [1, 5]);

  it('computes recall@k and recall_any@k', () => {
    expect(m['recall@1']).toBe(0);
    expect(m['recall@5']).toBeCloseTo(2 / 3, 12);
    expect(m['recall_any@1']).toBe(0);
    expect(m['recall_any@5']).toBe(1);
  });

  it('computes nDCG@k with binary gains against the ideal ranking', () => {
    const dcg = 1 / Math.log2(4) + 1 / Math.log2(6);
    const ideal = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(m['ndcg@5']).toBeCloseTo(dcg / ideal, 12);
    expect(m['ndcg@5']).toBeCloseTo(0.416181, 5);
  });

  it('computes MRR from the first evidence in the whole ranking', () => {
    expect(m.mrr).toBeCloseTo(1 / 3, 12);
    expect(scoreRanking(['a', 'b'], ['z']).mrr).toBe(0);
  });

  it('drops repeated keys before scoring (several observations of one turn)', () => {
    const r = scoreRanking(['b', 'b', 'c'], ['c'], [2]);
    expect(r['recall@2']).toBe(1);
    expect(r.mrr).toBe(0.5);
  });

  it('is perfect when the evidence leads the ranking', () => {
    const r = scoreRanking(['b', 'c', 'a'], ['c', 'b'], [2]);
    expect(r).toEqual({ 'recall@2': 1, 'recall_any@2': 1, 'ndcg@2': 1, mrr: 1 });
  });
});

describe('meanMetrics', () => {
  it('averages each metric over questions', () => {
    expect(meanMetrics([{ mrr: 1, 'recall@5': 0.5 }, { mrr: 0, 'recall@5': 1 }])).toEqual({ mrr: 0.5, 'recall@5': 0.75 });
    expect(meanMetrics([])).toEqual({});
  });
});
