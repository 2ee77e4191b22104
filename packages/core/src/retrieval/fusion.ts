/** Indices of `scores` from best to worst; ties keep index order, so rankings are deterministic. */
export function rankByScore(scores: ArrayLike<number>): number[] {
  return Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/**
 * Reciprocal rank fusion (Cormack et al., 2009): each list adds weight / (k + rank) to
 * each item, rank counted from 1. k = 60 is the paper's value, not tuned here.
 */
export function reciprocalRankFusion(scoreLists: readonly ArrayLike<number>[], options: { k?: number; weights?: number[] } = {}): Float64Array {
  const k = options.k ?? 60;
  const n = scoreLists[0]?.length ?? 0;
  const fused = new Float64Array(n);
  scoreLists.forEach((scores, l) => {
    const w = options.weights?.[l] ?? 1;
    rankByScore(scores).forEach((item, rank) => {
      fused[item]! += w / (k + rank + 1);
    });
  });
  return fused;
}

/**
 * Weighted score fusion (CombSUM over z-scores): each list's scores are standardized over
 * the corpus for this query (mean 0, standard deviation 1), then summed with the weights.
 * Standardizing makes BM25's unbounded scores and cosines comparable without a trained
 * mapping; equal weights are the default because nothing on the data says otherwise.
 */
export function zScoreFusion(scoreLists: readonly ArrayLike<number>[], weights?: readonly number[]): Float64Array {
  const n = scoreLists[0]?.length ?? 0;
  const fused = new Float64Array(n);
  scoreLists.forEach((scores, l) => {
    const z = standardize(scores);
    const w = weights?.[l] ?? 1;
    for (let i = 0; i < n; i++) fused[i]! += w * z[i]!;
  });
  return fused;
}

/**
 * Scores standardized over the list (mean 0, standard deviation 1); a constant list, which
 * ranks nothing, gives zeros.
 */
export function standardize(scores: ArrayLike<number>): Float64Array {
  const n = scores.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += scores[i]!;
  mean /= n || 1;
  let variance = 0;
  for (let i = 0; i < n; i++) variance += (scores[i]! - mean) ** 2;
  const std = Math.sqrt(variance / (n || 1));
  const out = new Float64Array(n);
  if (std > 0) for (let i = 0; i < n; i++) out[i] = (scores[i]! - mean) / std;
  return out;
}
