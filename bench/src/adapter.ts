// pnpm bench:adapter — HiNS adapter ablation, leave one conversation out: for each
// conversation of a LoCoMo-format file (default: the two dev conversations), mine negatives
// and train an adapter on the other conversations' queries (QA and observation facts), then
// score the held-out conversation with and without it. Easy negatives come from the other
// conversations' turn texts (the held-out one's included, as in a store holding every
// user's memories: its questions and evidence are never seen); one control row leaves the
// held-out turns out of the pool. Writes bench/results/adapter.{json,md}.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  createRetriever,
  Encoder,
  evaluate,
  HierarchicalNegativeSampler,
  readDataset,
  samplerInputFromDataset,
  trainAdapter,
  type EvalDataset,
  type EvalReport,
  type QueryAdapter,
  type SamplerOptions,
  type TrainAdapterOptions,
  type TrainingReport,
} from '@evomem/core';
import { requireShared, resultsDir, sharedDir } from './shared.js';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string' },
    model: { type: 'string' },
    rows: { type: 'string' },
    out: { type: 'string', default: join(resultsDir, 'adapter') },
  },
});
if (!args.data) requireShared();
const data = args.data ?? join(sharedDir, 'data/locomo/locomo-dev.json');
const encoderOptions = { device: 'cpu' as const, ...(args.model ? { model: args.model } : {}) };

interface Row {
  row: string;
  backend: 'dense' | 'evolving' | 'evolving-hybrid';
  /** Undefined: no adapter. */
  sampler?: SamplerOptions | 'estimated';
  train?: TrainAdapterOptions;
  /** Leave the held-out conversation's turns out of the easy pool. */
  closedPool?: boolean;
}
const tiered = (hard: number, medium: number, easy: number): SamplerOptions => ({ ratios: { hard, medium, easy } });
const allRows: Row[] = [];
for (const backend of ['dense', 'evolving'] as const) {
  const train: TrainAdapterOptions = backend === 'evolving' ? { evolving: true } : {};
  allRows.push(
    { row: 'no adapter', backend },
    { row: 'random negatives', backend, sampler: { strategy: 'random' }, train },
    { row: 'hard only', backend, sampler: tiered(1, 0, 0), train },
    { row: 'hard + easy (50/50)', backend, sampler: tiered(0.5, 0, 0.5), train },
    { row: 'all tiers 30/30/40 (HiNS)', backend, sampler: {}, train },
    { row: 'estimated ratios', backend, sampler: 'estimated', train },
    { row: 'all tiers, no negative queue', backend, sampler: {}, train: { ...train, queueSize: 0 } },
  );
  if (backend === 'dense') {
    allRows.push(
      { row: 'random negatives, no negative queue', backend, sampler: { strategy: 'random' }, train: { ...train, queueSize: 0 } },
      { row: 'all tiers, full linear projection', backend, sampler: {}, train: { ...train, projection: 'linear' } },
    );
  }
  if (backend === 'dense') allRows.push({ row: 'all tiers, easy pool without held-out turns', backend, sampler: {}, train, closedPool: true });
}
// Seed spread: is a gap between two rows bigger than what another seed moves one row?
for (const seed of [2, 3]) {
  allRows.push(
    { row: `seed ${seed}: random negatives`, backend: 'dense', sampler: { strategy: 'random', seed }, train: { seed } },
    { row: `seed ${seed}: all tiers 30/30/40 (HiNS)`, backend: 'dense', sampler: { seed }, train: { seed } },
  );
}
allRows.push(
  { row: 'no adapter', backend: 'evolving-hybrid' },
  { row: 'all tiers 30/30/40 (HiNS)', backend: 'evolving-hybrid', sampler: {}, train: { evolving: true } },
);
const wanted = args.rows?.split(',');
const rows = wanted ? allRows.filter((r) => wanted.some((w) => `${r.backend}:${r.row}`.includes(w))) : allRows;

const turns = await readDataset(data, { unit: 'turn' });
const observations = await readDataset(data, { unit: 'observation' });
const conversations = turns.corpora.map((c) => c.id);
const only = (id: string): EvalDataset => ({ ...turns, corpora: turns.corpora.filter((c) => c.id === id) });
const encoder = await Encoder.load(encoderOptions);

interface FoldResult {
  heldOut: string;
  report: EvalReport;
  training?: TrainingReport & { groups_mined: number; picked: Record<string, number>; ratios: Record<string, number> | 'hins' };
  adapterBytes?: number;
  /** Mean extra time the adapter adds to one query embedding, microseconds. */
  queryOverheadUs?: number;
}
const results: { row: string; backend: string; folds: FoldResult[]; pooled: Record<string, number> }[] = [];

for (const r of rows) {
  const folds: FoldResult[] = [];
  for (const heldOut of conversations) {
    let adapter: QueryAdapter | undefined;
    let training: FoldResult['training'];
    if (r.sampler) {
      const keep = (c: { id: string }) => !r.closedPool || c.id !== heldOut;
      const input = samplerInputFromDataset(
        { ...turns, corpora: turns.corpora.filter(keep).map((c) => (c.id === heldOut ? { ...c, questions: [] } : c)) },
        { ...observations, corpora: observations.corpora.filter((c) => c.id !== heldOut) },
      );
      const samplerOptions = r.sampler === 'estimated' ? { ratios: await new HierarchicalNegativeSampler(input.messages, input.queries, { encoder }).estimateRatios() } : r.sampler;
      const { groups, report: mined } = await new HierarchicalNegativeSampler(input.messages, input.queries, { encoder, ...samplerOptions }).sample();
      const trained = await trainAdapter(encoder, { messages: input.messages, groups }, r.train);
      adapter = trained.adapter;
      training = { ...trained.report, groups_mined: groups.length, picked: mined.picked, ratios: samplerOptions.ratios ?? 'hins' };
    }
    const retriever = await createRetriever(r.backend, { encoder: { ...encoderOptions, ...(adapter ? { adapter } : {}) } });
    const report = await evaluate(only(heldOut), retriever);
    await retriever.dispose();
    const fold: FoldResult = { heldOut, report, ...(training ? { training } : {}) };
    if (adapter) {
      fold.adapterBytes = Buffer.byteLength(JSON.stringify(adapter.toJson()));
      fold.queryOverheadUs = applyMicros(adapter);
    }
    folds.push(fold);
    console.error(
      `${r.backend} | ${r.row} | held out ${heldOut}: recall@10 ${report.metrics['recall@10']!.toFixed(3)}${training ? ` (trained ${training.epochs} epochs, best ${training.bestEpoch}, ${training.trainSeconds.toFixed(1)} s + embed ${training.embedSeconds.toFixed(1)} s)` : ''}`,
    );
  }
  results.push({ row: r.row, backend: r.backend, folds, pooled: pooled(folds.map((f) => f.report)) });
}
await encoder.dispose();

/** Question-weighted mean of each metric over the held-out folds. */
function pooled(reports: EvalReport[]): Record<string, number> {
  const total = reports.reduce((n, r) => n + r.questions, 0);
  const out: Record<string, number> = {};
  for (const key of ['recall@5', 'recall@10']) out[key] = reports.reduce((s, r) => s + r.metrics[key]! * r.questions, 0) / total;
  for (const cat of ['1', '2', '3', '4']) {
    const n = reports.reduce((s, r) => s + (r.by_category[cat]?.questions ?? 0), 0);
    for (const key of ['recall@5', 'recall@10']) {
      out[`cat${cat} ${key}`] = n ? reports.reduce((s, r) => s + (r.by_category[cat]?.[key] ?? 0) * (r.by_category[cat]?.questions ?? 0), 0) / n : 0;
    }
  }
  return out;
}

/** Time of `adapter.apply` on one query vector, averaged over many calls. */
function applyMicros(adapter: QueryAdapter): number {
  const q = new Float32Array(adapter.model.dimensions).fill(1 / Math.sqrt(adapter.model.dimensions));
  for (let i = 0; i < 200; i++) adapter.apply(q);
  const n = 2000;
  const start = performance.now();
  for (let i = 0; i < n; i++) adapter.apply(q);
  return ((performance.now() - start) * 1000) / n;
}

const f = (v: number | undefined) => (v ?? 0).toFixed(3);
const base = (backend: string) => results.find((x) => x.backend === backend && x.row === 'no adapter');
const delta = (r: (typeof results)[number]) => {
  const b = base(r.backend);
  return b && r.row !== 'no adapter' ? `${r.pooled['recall@10']! - b.pooled['recall@10']! >= 0 ? '+' : ''}${(r.pooled['recall@10']! - b.pooled['recall@10']!).toFixed(3)}` : '';
};
const trainedOf = (kind: string) => results.flatMap((r) => r.folds).filter((x) => x.training?.projection === kind);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
const lines = [
  '# HiNS adapter ablation: leave one conversation out (LoCoMo, turn units)',
  '',
  `Command: \`pnpm bench:adapter\`. Data: \`${data}\`; base encoder \`${results[0]?.folds[0]?.report.model ?? encoder.modelId}\`, frozen. Each fold trains on the other conversation's QA and observation facts and scores the held-out one (categories 1-4); pooled = question-weighted over both folds. Adapter: low-rank (16) query projection, InfoNCE at temperature 0.02, 15 negatives per pair, negative queue 1,024, early stopping on 10% of the training queries; on the evolving backend the gate is trained too. Easy negatives come from the other conversation's turn texts, the held-out one's included (never its questions or evidence); the row 'easy pool without held-out turns' leaves them out, so its groups hold hard and medium negatives only.`,
  '',
  `| backend | row | recall@5 | recall@10 | Δ r@10 | ${conversations.map((c) => `${c} held out r@10`).join(' | ')} | multi-hop | temporal | open-domain | single-hop | epochs (best) |`,
  `|---|---|---|---|---|${conversations.map(() => '---').join('|')}|---|---|---|---|---|`,
  ...results.map(
    (r) =>
      `| ${r.backend} | ${r.row} | ${f(r.pooled['recall@5'])} | ${f(r.pooled['recall@10'])} | ${delta(r)} | ${r.folds.map((x) => f(x.report.metrics['recall@10'])).join(' | ')} | ${['1', '2', '3', '4']
        .map((c) => f(r.pooled[`cat${c} recall@10`]))
        .join(' | ')} | ${r.folds.map((x) => (x.training ? `${x.training.epochs} (${x.training.bestEpoch})` : '-')).join(', ')} |`,
  ),
  '',
  'Recall@5 by category (pooled):',
  '',
  '| backend | row | multi-hop | temporal | open-domain | single-hop |',
  '|---|---|---|---|---|---|',
  ...results.map((r) => `| ${r.backend} | ${r.row} | ${['1', '2', '3', '4'].map((c) => f(r.pooled[`cat${c} recall@5`])).join(' | ')} |`),
  '',
  ...['low-rank', 'linear'].map((kind) => {
    const trained = trainedOf(kind);
    if (trained.length === 0) return '';
    const m = (pick: (t: TrainingReport) => number) => mean(trained.map((x) => pick(x.training!)));
    return (
      `Cost per ${kind} adapter (mean of ${trained.length} trained): embedding the data ${m((t) => t.embedSeconds).toFixed(1)} s, training ${m((t) => t.trainSeconds).toFixed(1)} s ` +
      `(${m((t) => t.msPerStep).toFixed(1)} ms per step of 32 groups, ${m((t) => t.groups.train).toFixed(0)} training groups); file ${(mean(trained.map((x) => x.adapterBytes!)) / 1024).toFixed(0)} KiB ` +
      `(${trained[0]!.training!.parameters} parameters); query-time overhead ${mean(trained.map((x) => x.queryOverheadUs!)).toFixed(1)} µs per query.\n`
    );
  }),
  '',
];
await mkdir(resultsDir, { recursive: true });
await writeFile(`${args.out}.md`, lines.join('\n'));
await writeFile(`${args.out}.json`, `${JSON.stringify({ benchmark: 'adapter', command: 'pnpm bench:adapter', date: new Date().toISOString(), data, results }, null, 2)}\n`);
console.log(lines.join('\n'));
