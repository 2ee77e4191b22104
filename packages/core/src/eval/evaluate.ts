import { rankByScore } from '../retrieval/fusion.js';
import { DEFAULT_KS, meanMetrics, scoreRanking, type MetricValues } from './metrics.js';
import type { Retriever } from './retrievers.js';
import type { EvalDataset } from './types.js';

/** What `evomem eval --json` writes. */
export interface EvalReport {
  retriever: string;
  model: string | null;
  data: string;
  format: EvalDataset['format'];
  unit: EvalDataset['unit'];
  questions: number;
  skipped: number;
  skipped_by_reason: Record<string, number>;
  metrics: MetricValues;
  by_category: Record<string, MetricValues & { questions: number }>;
}

export interface EvaluateOptions {
  /** Cut-offs for recall@k, recall_any@k, ndcg@k. @default [1, 5, 10, 20] */
  ks?: number[];
  /** Called after each corpus with questions done so far and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Scores a retriever on a dataset: one index per corpus, every question ranked over its
 * own corpus, metrics averaged over questions and per category. Deterministic: ties are
 * broken by unit order.
 */
export async function evaluate(dataset: EvalDataset, retriever: Retriever, options: EvaluateOptions = {}): Promise<EvalReport> {
  const ks = options.ks ?? DEFAULT_KS;
  const total = dataset.corpora.reduce((n, c) => n + c.questions.length, 0);
  const rows: { category: string; values: MetricValues }[] = [];
  for (const corpus of dataset.corpora) {
    if (corpus.questions.length === 0) continue;
    const index = await retriever.index(corpus);
    for (const question of corpus.questions) {
      const ranking = rankByScore(await index.scores(question)).map((i) => corpus.units[i]!.key);
      rows.push({ category: question.category, values: scoreRanking(ranking, question.evidence, ks) });
    }
    options.onProgress?.(rows.length, total);
  }
  const categories = [...new Set(rows.map((r) => r.category))].sort();
  const skippedByReason = dataset.skipped;
  return {
    retriever: retriever.name,
    model: retriever.model ?? null,
    data: dataset.source,
    format: dataset.format,
    unit: dataset.unit,
    questions: rows.length,
    skipped: Object.values(skippedByReason).reduce((a, b) => a + b, 0),
    skipped_by_reason: skippedByReason,
    metrics: meanMetrics(rows.map((r) => r.values)),
    by_category: Object.fromEntries(
      categories.map((c) => {
        const subset = rows.filter((r) => r.category === c);
        return [c, { ...meanMetrics(subset.map((r) => r.values)), questions: subset.length }];
      }),
    ),
  };
}
