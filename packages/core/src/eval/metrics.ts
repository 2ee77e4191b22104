/** Metric values of one question or averaged over many. */
export type MetricValues = Record<string, number>;

/** The default cut-offs. */
export const DEFAULT_KS = [1, 5, 10, 20];

/**
 * Scores one ranking (unit keys, best first; repeats are dropped, first place kept) against
 * the evidence keys:
 * - recall@k = |evidence in top k| / |evidence|
 * - recall_any@k = 1 if any evidence is in the top k
 * - ndcg@k with binary gains: sum over hits of 1/log2(rank+1), divided by the best possible
 * - mrr = 1 / rank of the first evidence in the whole ranking, 0 when none is retrieved
 */
export function scoreRanking(ranking: readonly string[], evidence: readonly string[], ks: readonly number[] = DEFAULT_KS): MetricValues {
  const gold = new Set(evidence);
  const seen = new Set<string>();
  const ranked = ranking.filter((key) => !seen.has(key) && seen.add(key));
  const out: MetricValues = {};
  for (const k of ks) {
    const top = ranked.slice(0, k);
    const hits = top.filter((key) => gold.has(key)).length;
    out[`recall@${k}`] = gold.size ? hits / gold.size : 0;
    out[`recall_any@${k}`] = hits > 0 ? 1 : 0;
    let dcg = 0;
    top.forEach((key, i) => {
      if (gold.has(key)) dcg += 1 / Math.log2(i + 2);
    });
    let ideal = 0;
    for (let i = 0; i < Math.min(gold.size, k); i++) ideal += 1 / Math.log2(i + 2);
    out[`ndcg@${k}`] = ideal ? dcg / ideal : 0;
  }
  const first = ranked.findIndex((key) => gold.has(key));
  out.mrr = first < 0 ? 0 : 1 / (first + 1);
  return out;
}

/** The mean of each metric over a list of per-question values. */
export function meanMetrics(rows: readonly MetricValues[]): MetricValues {
  const out: MetricValues = {};
  if (rows.length === 0) return out;
  for (const key of Object.keys(rows[0]!)) out[key] = rows.reduce((s, r) => s + (r[key] ?? 0), 0) / rows.length;
  return out;
}
