// The adapter benchmark's results: pooling over folds and the markdown report.
import type { EvalReport, TrainingReport } from '@evomem/core';
import type { Selection } from './adapterSelection.js';

export interface FoldResult {
  heldOut: string;
  report: EvalReport;
  training?: TrainingReport & { groups_mined: number; picked: Record<string, number>; ratios: Record<string, number> | 'hins' };
  /** The grid config chosen on the training conversations, for the selection rows. */
  selection?: Selection;
  adapterBytes?: number;
  /** Extra time the adapter adds to one query embedding, microseconds. */
  queryOverheadUs?: number;
}

export interface RowResult {
  row: string;
  backend: string;
  transductive: boolean;
  folds: FoldResult[];
  pooled: Record<string, number>;
}

const CATEGORIES = ['1', '2', '3', '4'];

/** Question-weighted mean of each metric over the held-out folds. */
export function pooled(reports: EvalReport[]): Record<string, number> {
  const total = reports.reduce((n, r) => n + r.questions, 0);
  const out: Record<string, number> = {};
  for (const key of ['recall@5', 'recall@10']) out[key] = reports.reduce((s, r) => s + r.metrics[key]! * r.questions, 0) / total;
  for (const cat of CATEGORIES) {
    const n = reports.reduce((s, r) => s + (r.by_category[cat]?.questions ?? 0), 0);
    for (const key of ['recall@5', 'recall@10']) {
      out[`cat${cat} ${key}`] = n ? reports.reduce((s, r) => s + (r.by_category[cat]?.[key] ?? 0) * (r.by_category[cat]?.questions ?? 0), 0) / n : 0;
    }
  }
  return out;
}

const f = (v: number | undefined) => (v ?? 0).toFixed(3);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
const configName = (c: { projection?: string; queueSize?: number }) => `${c.projection ?? 'low-rank'}, queue ${c.queueSize ?? 1024}`;

export function adapterMarkdown(input: {
  origin: { command: string; commit: string; dirty: boolean; date: string };
  data: string;
  model: string;
  conversations: string[];
  results: RowResult[];
}): string {
  const { origin, data, model, conversations, results } = input;
  const base = (backend: string) => results.find((x) => x.backend === backend && x.row === 'no adapter');
  const delta = (r: RowResult) => {
    const b = base(r.backend);
    if (!b || r.row === 'no adapter') return '';
    const d = r.pooled['recall@10']! - b.pooled['recall@10']!;
    return `${d >= 0 ? '+' : ''}${d.toFixed(3)}`;
  };
  const inductive = results.filter((r) => !r.transductive).flatMap((r) => r.folds);
  const costOf = (kind: string) => inductive.filter((x) => x.training?.projection === kind && !x.training.evolving);
  const lines = [
    '# HiNS adapter ablation: leave one conversation out (LoCoMo, turn units)',
    '',
    `Command: \`${origin.command}\` at ${origin.commit}${origin.dirty ? ' (uncommitted changes)' : ''}, ${origin.date}. Data: \`${data}\`; base encoder \`${model}\`, frozen.`,
    '',
    "Each fold trains on the other conversation's QA and observation facts and scores the held-out one (categories 1-4); pooled = question-weighted over both folds. Adapter: low-rank (16) query projection, InfoNCE at temperature 0.02, 15 negatives per pair, negative queue 1,024, early stopping on 10% of the training queries; on the evolving backends the gate is trained too.",
    '',
    "**Inductive** (every row not marked otherwise): the negative pool holds no turn of the held-out conversation. With the dev file's two conversations, the easy tier (other conversations) is then empty, so tiered groups hold hard and medium negatives only. **Transductive** rows put the held-out conversation's turn texts (not its questions) in the pool, as a store holding every user's memories would; its evidence turns are then among the easy negatives.",
    '',
    `| backend | row | recall@5 | recall@10 | Δ r@10 | ${conversations.map((c) => `${c} held out r@10`).join(' | ')} | multi-hop | temporal | open-domain | single-hop | epochs (best) |`,
    `|---|---|---|---|---|${conversations.map(() => '---').join('|')}|---|---|---|---|---|`,
    ...results.map(
      (r) =>
        `| ${r.backend} | ${r.row} | ${f(r.pooled['recall@5'])} | ${f(r.pooled['recall@10'])} | ${delta(r)} | ${r.folds.map((x) => f(x.report.metrics['recall@10'])).join(' | ')} | ${CATEGORIES.map((c) => f(r.pooled[`cat${c} recall@10`])).join(' | ')} | ${r.folds.map((x) => (x.training ? `${x.training.epochs} (${x.training.bestEpoch})` : '-')).join(', ')} |`,
    ),
    '',
    'Recall@5 by category (pooled):',
    '',
    '| backend | row | multi-hop | temporal | open-domain | single-hop |',
    '|---|---|---|---|---|---|',
    ...results.map((r) => `| ${r.backend} | ${r.row} | ${CATEGORIES.map((c) => f(r.pooled[`cat${c} recall@5`])).join(' | ')} |`),
    '',
  ];
  const selections = results.filter((r) => r.folds.some((x) => x.selection));
  if (selections.length) {
    lines.push(
      '## Defaults chosen without the held-out conversation',
      '',
      "Per fold, half of the training conversation's QA questions (by a hash of the id) are set aside; an adapter of each config (projection x negative queue) is trained on the other half and every observation fact, and scored by recall@10 on the set-aside questions over the training conversation's turns. The best config is retrained on all training queries and scored on the held-out conversation (the row 'projection and queue chosen on the training conversation' above).",
      '',
      `| backend | held out | set-aside questions | ${selections[0]!.folds[0]!.selection!.validation.map((v) => configName(v.config)).join(' | ')} | chosen | held-out r@10 |`,
      `|---|---|---|${selections[0]!.folds[0]!.selection!.validation.map(() => '---').join('|')}|---|---|`,
      ...selections.flatMap((r) =>
        r.folds.map(
          (x) =>
            `| ${r.backend} | ${x.heldOut} | ${x.selection!.validationQuestions} | ${x.selection!.validation.map((v) => f(v.recallAt10)).join(' | ')} | ${configName(x.selection!.chosen)} | ${f(x.report.metrics['recall@10'])} |`,
        ),
      ),
      '',
    );
  }
  lines.push('## Cost (inductive dense rows)', '');
  for (const kind of ['low-rank', 'linear']) {
    const trained = costOf(kind);
    if (trained.length === 0) continue;
    const m = (pick: (t: TrainingReport) => number) => mean(trained.map((x) => pick(x.training!)));
    lines.push(
      `- ${kind} (mean of ${trained.length} trained): embedding the data ${m((t) => t.embedSeconds).toFixed(1)} s, training ${m((t) => t.trainSeconds).toFixed(1)} s ` +
        `(${m((t) => t.msPerStep).toFixed(1)} ms per step of 32 groups, ${m((t) => t.groups.train).toFixed(0)} training groups); file ${(mean(trained.map((x) => x.adapterBytes!)) / 1024).toFixed(0)} KiB ` +
        `(${trained[0]!.training!.parameters} parameters); query-time overhead ${mean(trained.map((x) => x.queryOverheadUs!)).toFixed(1)} µs per query.`,
    );
  }
  const low = costOf('low-rank');
  const linear = costOf('linear');
  if (low.length && linear.length) {
    const ratio = (pick: (x: FoldResult) => number) => (mean(linear.map(pick)) / mean(low.map(pick))).toFixed(1);
    lines.push(`- linear / low-rank: file ${ratio((x) => x.adapterBytes!)}x, query-time overhead ${ratio((x) => x.queryOverheadUs!)}x.`);
  }
  lines.push('');
  return lines.join('\n');
}
