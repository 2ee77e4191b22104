// pnpm bench:retrieval: the retrieval pipeline's ablation on both dev files (LoCoMo and
// FriendsQA, turn units), every trained part scored leave-one-conversation-out over the 11
// corpora: for each held-out corpus, the query adapter and the fusion weights are trained on
// the other 10 (both files), then the held-out corpus is scored. Rows switch each part of the
// pipeline off in turn; fixed-weight rows are today's retrievers. Also times ingest and query
// against today's evolving-hybrid. Writes bench/results/retrieval.{json,md,svg}.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  DEFAULT_FUSION,
  Encoder,
  EvolvingEncoder,
  fuseSignals,
  meanMetrics,
  QueryAdapter,
  rankByScore,
  scoreRanking,
  SearchIndex,
  trainFusion,
  unitMeta,
  type FusionExample,
  type FusionWeights,
  type MetricValues,
  type PipelineParts,
} from '@evomem/core';
import { corpusExamples, loadDevData, trainFoldAdapter, type Backend, type Corpus } from './pipelineFolds.js';
import { lineChart } from './svgChart.js';
import { benchArgs, commandLine, provenance, requireShared, resultsDir, sharedDir, userPath } from './shared.js';

const { values: args } = parseArgs({
  args: benchArgs(),
  options: {
    locomo: { type: 'string' },
    friendsqa: { type: 'string' },
    /** Folder of fold adapters (adapter-<held-out>.json): read when there, trained and written when not. */
    adapters: { type: 'string' },
    /** Only the rows whose "backend | row" contains one of these texts, separated by semicolons. */
    rows: { type: 'string' },
    out: { type: 'string', default: join(resultsDir, 'retrieval') },
  },
});
if (!args.locomo || !args.friendsqa) requireShared();
const origin = await provenance(commandLine('retrieval'));
const out = userPath(args.out!);
const files = {
  LoCoMo: args.locomo ? userPath(args.locomo) : join(sharedDir, 'data/locomo/locomo-dev.json'),
  FriendsQA: args.friendsqa ? userPath(args.friendsqa) : join(sharedDir, 'data/friendsqa/friendsqa-dev.json'),
};
const KS = [1, 2, 3, 5, 7, 10, 15, 20];

const encoder = await Encoder.load({ device: 'cpu', adapter: false });
const data = await loadDevData(files, encoder);
const corpora = data.corpora;
console.error(`embedded ${corpora.length} corpora`);

interface Row {
  row: string;
  backend: Backend;
  adapter: boolean;
  parts?: PipelineParts;
  /** Fixed weights; undefined: learned per fold. */
  weights?: FusionWeights;
  /** Signals a learned row may use (all the parts give when undefined). */
  only?: string[];
}
const OFF = { neighbourhood: false, granularity: false, speakers: false, time: false };
// The recommended backend (static) gets the full ablation; the evolving backend its own
// today's rows and the whole pipeline, to compare backends.
const allRows: Row[] = [
  { row: 'bm25', backend: 'static', adapter: false, parts: OFF, weights: { bm25: 1 } },
  { row: 'hybrid (today)', backend: 'static', adapter: false, parts: OFF, weights: { bm25: 1, dense: 1 } },
  { row: 'hybrid + adapter', backend: 'static', adapter: true, parts: OFF, weights: { bm25: 1, dense: 1 } },
  { row: 'evolving-hybrid (today)', backend: 'evolving', adapter: false, parts: OFF, weights: { bm25: 1, dense: 1 } },
  { row: "evolving-hybrid + adapter (today's best)", backend: 'evolving', adapter: true, parts: OFF, weights: { bm25: 1, dense: 1 } },
  { row: 'learned fusion of bm25 + dense, + adapter', backend: 'static', adapter: true, parts: OFF },
  { row: 'pipeline, no adapter', backend: 'static', adapter: false },
  { row: 'pipeline without neighbourhood', backend: 'static', adapter: true, parts: { neighbourhood: false } },
  { row: 'pipeline without granularity', backend: 'static', adapter: true, parts: { granularity: false } },
  { row: 'pipeline without speakers', backend: 'static', adapter: true, parts: { speakers: false } },
  { row: 'pipeline without time', backend: 'static', adapter: true, parts: { time: false } },
  { row: 'pipeline (all parts): the default', backend: 'static', adapter: true },
  { row: 'pipeline (all parts)', backend: 'evolving', adapter: true },
];
const wanted = args.rows?.split(';');
const rows = wanted ? allRows.filter((r) => wanted.some((w) => `${r.backend} | ${r.row}`.includes(w))) : allRows;

// Fold adapters: one per held-out corpus, trained on the other ten.
const foldAdapters = new Map<string, QueryAdapter>();
const adapterSeconds: number[] = [];
const cachedAdapters: string[] = [];
for (const c of rows.some((r) => r.adapter) ? corpora : []) {
  const file = args.adapters ? join(userPath(args.adapters), `adapter-${c.corpus.id}.json`) : undefined;
  if (file && existsSync(file)) {
    const cached = QueryAdapter.fromJson(JSON.parse(await readFile(file, 'utf8')), file);
    const seen = cached.training?.corpora;
    if (!Array.isArray(seen) || seen.includes(c.corpus.id)) throw new Error(`${file} does not record the corpora it was trained on, or saw ${c.corpus.id}: delete it to train it again.`);
    foldAdapters.set(c.corpus.id, cached);
    cachedAdapters.push(c.corpus.id);
    continue;
  }
  const { adapter, seconds } = await trainFoldAdapter(data, encoder, c.corpus.id);
  adapterSeconds.push(seconds);
  foldAdapters.set(c.corpus.id, adapter);
  if (file) await adapter.save(file);
  console.error(`adapter without ${c.corpus.id}: ${seconds.toFixed(0)} s`);
}

interface FoldScore {
  corpus: string;
  dataset: string;
  metrics: MetricValues;
  by_category: Record<string, MetricValues & { questions: number }>;
  questions: number;
  weights: FusionWeights;
}
interface RowResult extends Row {
  folds: FoldScore[];
  pooled: Record<string, { metrics: MetricValues; questions: number; by_category: Record<string, MetricValues & { questions: number }> }>;
}

function score(c: Corpus, examples: FusionExample[], weights: FusionWeights): Omit<FoldScore, 'weights'> {
  const rows = examples.map((e, i) => {
    const ranking = rankByScore(fuseSignals(e.columns, weights, c.corpus.units.length)).map((u) => c.corpus.units[u]!.key);
    return { category: c.corpus.questions[i]!.category, values: scoreRanking(ranking, c.corpus.questions[i]!.evidence, KS) };
  });
  return { corpus: c.corpus.id, dataset: c.dataset, metrics: meanMetrics(rows.map((r) => r.values)), by_category: byCategory(rows), questions: rows.length };
}
function byCategory(rows: { category: string; values: MetricValues }[]) {
  const cats = [...new Set(rows.map((r) => r.category))].sort();
  return Object.fromEntries(cats.map((k) => { const s = rows.filter((r) => r.category === k); return [k, { ...meanMetrics(s.map((r) => r.values)), questions: s.length }]; }));
}
/** Question-weighted mean of fold metrics. */
function pool(folds: Omit<FoldScore, 'weights'>[]): MetricValues & { questions: number } {
  const n = folds.reduce((a, f) => a + f.questions, 0);
  const keys = Object.keys(folds[0]!.metrics);
  return { ...Object.fromEntries(keys.map((k) => [k, folds.reduce((a, f) => a + f.metrics[k]! * f.questions, 0) / n])), questions: n };
}
function poolCategories(folds: FoldScore[]) {
  const cats = [...new Set(folds.flatMap((f) => Object.keys(f.by_category)))].sort();
  return Object.fromEntries(cats.map((k) => [k, pool(folds.filter((f) => f.by_category[k]).map((f) => ({ ...f, metrics: f.by_category[k]!, questions: f.by_category[k]!.questions })))]));
}

const results: RowResult[] = [];
for (const r of rows) {
  const started = performance.now();
  const folds: FoldScore[] = [];
  for (const held of corpora) {
    const adapter = r.adapter ? foldAdapters.get(held.corpus.id) : undefined;
    let weights = r.weights;
    if (!weights) {
      const training = corpora.filter((c) => c !== held).flatMap((c) => corpusExamples(c, r.backend, adapter, r.parts));
      weights = trainFusion(training).weights;
    }
    folds.push({ ...score(held, corpusExamples(held, r.backend, adapter, r.parts), weights), weights });
  }
  const pooled = Object.fromEntries(data.names.map((d) => { const f = folds.filter((x) => x.dataset === d); const { questions, ...metrics } = pool(f); return [d, { metrics, questions, by_category: poolCategories(f) }]; }));
  results.push({ ...r, folds, pooled });
  console.error(`${r.backend} | ${r.row}: ${data.names.map((d) => `${d} ${pooled[d]!.metrics['recall@10']!.toFixed(3)}`).join(', ')} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

// Cost, side by side on the largest corpus: ingest (embedding and indexing every turn) and
// query latency (embedding the question and scoring), with the default adapter's weights.
const big = corpora.reduce((a, b) => (b.corpus.units.length > a.corpus.units.length ? b : a));
const adapted = await Encoder.load({ device: 'cpu' });
const costs: { retriever: string; ingestMsPerTurn: number; queryMs: number }[] = [];
for (const [retriever, make] of [
  ['evolving-hybrid (today)', () => new SearchIndex({ mode: 'hybrid', evolving: new EvolvingEncoder(adapted, { onWarning: () => {} }) })],
  ['pipeline, static backend', () => new SearchIndex({ encoder: adapted })],
  ['pipeline, evolving backend', () => new SearchIndex({ evolving: new EvolvingEncoder(adapted, { onWarning: () => {} }) })],
] as const) {
  // Warm-up on a throwaway index, so that no row pays the session's first runs.
  const warm = make();
  await warm.add(big.corpus.units.slice(0, 32).map((u) => u.text));
  await warm.scores(big.corpus.questions[0]!.text);
  const index = make();
  const t0 = performance.now();
  await index.add(big.corpus.units.map((u) => u.text), big.corpus.units.map((u, i) => ({ id: `${i}`, ...unitMeta(u) })));
  await index.scores(big.corpus.questions[0]!.text); // builds the lexical indexes once, as the first query of a session would
  const ingest = performance.now() - t0;
  const t1 = performance.now();
  for (const q of big.corpus.questions) await index.scores(q.text);
  costs.push({ retriever, ingestMsPerTurn: ingest / big.corpus.units.length, queryMs: (performance.now() - t1) / big.corpus.questions.length });
}
await adapted.dispose();
await encoder.dispose();

const f3 = (v: number | undefined) => (v ?? 0).toFixed(3);
const spread = (r: RowResult, d: string) => {
  const v = r.folds.filter((f) => f.dataset === d).map((f) => f.metrics['recall@10']!);
  return `${f3(Math.min(...v))}-${f3(Math.max(...v))}`;
};
const md: string[] = [
  '# Retrieval pipeline: ablation, leave one conversation out',
  '',
  `Command: \`${origin.command}\` at ${origin.commit}${origin.dirty ? ' (uncommitted changes)' : ''}, ${origin.date}. Model: the offline default (USE lite); turn units; LoCoMo questions of categories 1-4.`,
  `Data: ${Object.entries(files).map(([n, f]) => `${n} \`${f}\``).join(', ')}; ${corpora.length} corpora (${data.names.map((d) => `${d} ${corpora.filter((c) => c.dataset === d).length}`).join(', ')}).`,
  '',
  'Each held-out corpus is scored with a query adapter and fusion weights trained on the other 10 corpora (both files): nothing of it (turns, questions, evidence) reaches training. Rows with fixed weights train nothing but the adapter where marked. Pooled = question-weighted over the folds; spread = lowest and highest fold recall@10 (per-fold values in the JSON).',
  '',
  'The fold adapters are the shipped recipe: HiNS negatives, a query projection trained on static document embeddings. The evolving rows use the same adapter; `pnpm bench:adapter` also trains the evolving gate, which gives evolving-hybrid 0.698 recall@10 on LoCoMo dev (its own table, LoCoMo folds only): the evolving baseline at its best is that number, not this row.',
  '',
  `| backend | row | ${data.names.map((d) => `${d} r@5 | ${d} r@10 | ${d} spread`).join(' | ')} |`,
  `|---|---|${data.names.map(() => '---|---|---').join('|')}|`,
  ...results.map((r) => `| ${r.backend} | ${r.row} | ${data.names.map((d) => `${f3(r.pooled[d]!.metrics['recall@5'])} | ${f3(r.pooled[d]!.metrics['recall@10'])} | ${spread(r, d)}`).join(' | ')} |`),
  '',
  '## recall@10 by category (LoCoMo: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop)',
  '',
];
for (const d of data.names) {
  const cats = Object.keys(results[0]!.pooled[d]!.by_category);
  md.push(`| ${d} | ${cats.map((c) => `${c} (${results[0]!.pooled[d]!.by_category[c]!.questions} q)`).join(' | ')} |`, `|---|${cats.map(() => '---').join('|')}|`);
  for (const r of results) md.push(`| ${r.backend}: ${r.row} | ${cats.map((c) => f3(r.pooled[d]!.by_category[c]?.['recall@10'])).join(' | ')} |`);
  md.push('');
}
md.push(
  `## Cost (${big.dataset} ${big.corpus.id}: ${big.corpus.units.length} turns, ${big.corpus.questions.length} questions; same run)`,
  '',
  '| retriever | ingest ms/turn | query ms | ingest vs today |',
  '|---|---|---|---|',
  ...costs.map((c) => `| ${c.retriever} | ${c.ingestMsPerTurn.toFixed(2)} | ${c.queryMs.toFixed(2)} | ${(c.ingestMsPerTurn / costs[0]!.ingestMsPerTurn).toFixed(2)}x |`),
  '',
  `Shipped default weights (\`DEFAULT_FUSION\`): static ${JSON.stringify(DEFAULT_FUSION.static)}; evolving ${JSON.stringify(DEFAULT_FUSION.evolving)}.`,
  '',
  `![recall@k](${basename(out)}.svg)`,
  '',
);
const charted = results.filter((r) => r.row.includes("today's best") || r.row.startsWith('pipeline (all parts)') || r.row === 'bm25');
await mkdir(resultsDir, { recursive: true });
await writeFile(`${out}.md`, md.join('\n'));
await writeFile(`${out}.json`, `${JSON.stringify({ benchmark: 'retrieval', ...origin, files, adapterTrainSeconds: adapterSeconds, cachedAdapters, results, costs }, null, 2)}\n`);
await writeFile(
  `${out}.svg`,
  lineChart(
    'recall@k on LoCoMo dev, leave one conversation out',
    'k (turns retrieved)',
    'recall@k',
    charted.map((r) => ({ name: `${r.row.replace(" (today's best)", '').replace(' (all parts): the default', '').replace(' (all parts)', ', evolving')}`, points: KS.map((k) => [k, r.pooled.LoCoMo!.metrics[`recall@${k}`] ?? 0] as [number, number]) })),
  ),
);
console.log(md.slice(6, 8 + results.length).join('\n'));
console.error(`wrote ${args.out}.json, .md, .svg`);
