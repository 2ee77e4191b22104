// pnpm bench:adapter — HiNS adapter ablation, leave one conversation out: for each
// conversation of a LoCoMo-format file (default: the two dev conversations), mine negatives
// and train an adapter on the other conversations' queries (QA and observation facts), then
// score the held-out conversation with and without it.
//
// Inductive by default: the training pool holds no turn of the held-out conversation, so
// nothing of it (turns, questions, evidence) reaches training. Rows marked transductive put
// its turn texts (not its questions) in the negative pool, as a store holding every user's
// memories would; its evidence turns are then among the negatives.
//
// The adapter's defaults (projection, negative queue) are also chosen per fold on the
// training conversations alone (adapterSelection.ts), and that choice is scored on the
// held-out conversation. Writes bench/results/adapter.{json,md}.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRetriever, Encoder, evaluate, HierarchicalNegativeSampler, readDataset, samplerInputFromDataset, trainAdapter, type EvalDataset, type QueryAdapter } from '@evomem/core';
import { adapterMarkdown, pooled, type FoldResult, type RowResult } from './adapterReport.js';
import { GRID, selectOnTraining, type GridConfig } from './adapterSelection.js';
import { benchArgs, commandLine, provenance, requireShared, resultsDir, sharedDir } from './shared.js';

const { values: args } = parseArgs({
  args: benchArgs(),
  options: {
    data: { type: 'string' },
    model: { type: 'string' },
    rows: { type: 'string' },
    out: { type: 'string', default: join(resultsDir, 'adapter') },
  },
});
if (!args.data) requireShared();
const origin = await provenance(commandLine('adapter'));
const data = args.data ?? join(sharedDir, 'data/locomo/locomo-dev.json');
const encoderOptions = { device: 'cpu' as const, ...(args.model ? { model: args.model } : {}) };

type Backend = 'dense' | 'evolving' | 'evolving-hybrid';
interface Row {
  row: string;
  backend: Backend;
  /** Undefined: no adapter. 'select': the grid config chosen on the training conversations. */
  sampler?: SamplerChoice;
  train?: GridConfig & { seed?: number };
  /** Put the held-out conversation's turn texts in the negative pool. */
  transductive?: boolean;
}
type SamplerChoice = { strategy?: 'random'; ratios?: { hard: number; medium: number; easy: number }; seed?: number } | 'estimated' | 'select';
const tiered = (hard: number, medium: number, easy: number) => ({ ratios: { hard, medium, easy } });
const allRows: Row[] = [];
for (const backend of ['dense', 'evolving'] as const) {
  allRows.push(
    { row: 'no adapter', backend },
    { row: 'all tiers 30/30/40 (HiNS)', backend, sampler: {} },
    { row: 'random negatives', backend, sampler: { strategy: 'random' } },
    { row: 'hard only', backend, sampler: tiered(1, 0, 0) },
    { row: 'estimated ratios', backend, sampler: 'estimated' },
    { row: 'all tiers, no negative queue', backend, sampler: {}, train: { queueSize: 0 } },
    { row: 'all tiers, full linear projection', backend, sampler: {}, train: { projection: 'linear' } },
    { row: 'projection and queue chosen on the training conversation', backend, sampler: 'select' },
    { row: 'transductive: all tiers 30/30/40 (HiNS)', backend, sampler: {}, transductive: true },
    { row: 'transductive: random negatives', backend, sampler: { strategy: 'random' }, transductive: true },
  );
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
  { row: 'all tiers 30/30/40 (HiNS)', backend: 'evolving-hybrid', sampler: {} },
  { row: 'transductive: all tiers 30/30/40 (HiNS)', backend: 'evolving-hybrid', sampler: {}, transductive: true },
);
const wanted = args.rows?.split(',');
const rows = wanted ? allRows.filter((r) => wanted.some((w) => `${r.backend}:${r.row}`.includes(w))) : allRows;

const turns = await readDataset(data, { unit: 'turn' });
const observations = await readDataset(data, { unit: 'observation' });
const conversations = turns.corpora.map((c) => c.id);
const only = (id: string): EvalDataset => ({ ...turns, corpora: turns.corpora.filter((c) => c.id === id) });
const encoder = await Encoder.load(encoderOptions);

/** The training data of one fold: every conversation but the held-out one (plus its turn texts when transductive). */
function trainingData(heldOut: string, transductive: boolean, keepQuestion: (id: string) => boolean = () => true) {
  return samplerInputFromDataset(
    {
      ...turns,
      corpora: turns.corpora
        .filter((c) => transductive || c.id !== heldOut)
        .map((c) => (c.id === heldOut ? { ...c, questions: [] } : { ...c, questions: c.questions.filter((q) => keepQuestion(q.id)) })),
    },
    { ...observations, corpora: observations.corpora.filter((c) => c.id !== heldOut) },
  );
}

/** Mines groups and trains one adapter on a fold's training data. */
async function train(backend: Backend, input: ReturnType<typeof trainingData>, sampler: Exclude<SamplerChoice, 'select'>, config: GridConfig & { seed?: number }) {
  const options = sampler === 'estimated' ? { ratios: await new HierarchicalNegativeSampler(input.messages, input.queries, { encoder }).estimateRatios() } : sampler;
  const { groups, report: mined } = await new HierarchicalNegativeSampler(input.messages, input.queries, { encoder, ...options }).sample();
  const trained = await trainAdapter(encoder, { messages: input.messages, groups }, { ...config, ...(backend === 'dense' ? {} : { evolving: true }) });
  return { adapter: trained.adapter, training: { ...trained.report, groups_mined: groups.length, picked: mined.picked, ratios: options.ratios ?? ('hins' as const) } };
}

async function score(backend: Backend, dataset: EvalDataset, adapter?: QueryAdapter) {
  const retriever = await createRetriever(backend, { encoder: { ...encoderOptions, ...(adapter ? { adapter } : {}) } });
  const report = await evaluate(dataset, retriever);
  await retriever.dispose();
  return report;
}

const results: RowResult[] = [];
for (const r of rows) {
  const folds: FoldResult[] = [];
  for (const heldOut of conversations) {
    const fold: FoldResult = { heldOut, report: undefined! };
    if (r.sampler) {
      let config: GridConfig & { seed?: number } = r.train ?? {};
      if (r.sampler === 'select') {
        fold.selection = await selectOnTraining(GRID, (keep, c) => train(r.backend, trainingData(heldOut, false, keep), {}, c), (dataset, a) => score(r.backend, dataset, a), turns, heldOut);
        config = fold.selection.chosen;
      }
      const { adapter, training } = await train(r.backend, trainingData(heldOut, r.transductive ?? false), r.sampler === 'select' ? {} : r.sampler, config);
      fold.training = training;
      fold.report = await score(r.backend, only(heldOut), adapter);
      fold.adapterBytes = Buffer.byteLength(JSON.stringify(adapter.toJson()));
      fold.queryOverheadUs = applyMicros(adapter);
    } else {
      fold.report = await score(r.backend, only(heldOut));
    }
    folds.push(fold);
    const t = fold.training;
    console.error(
      `${r.backend} | ${r.row} | held out ${heldOut}: recall@10 ${fold.report.metrics['recall@10']!.toFixed(3)}${t ? ` (trained ${t.epochs} epochs, best ${t.bestEpoch}, ${t.trainSeconds.toFixed(1)} s + embed ${t.embedSeconds.toFixed(1)} s)` : ''}${fold.selection ? ` chose ${JSON.stringify(fold.selection.chosen)}` : ''}`,
    );
  }
  results.push({ row: r.row, backend: r.backend, transductive: r.transductive ?? false, folds, pooled: pooled(folds.map((f) => f.report)) });
}
await encoder.dispose();

/**
 * Time of `adapter.apply` on one query vector: the fastest of 5 rounds of 2,000 calls, so
 * that a busy machine slows the figure less.
 */
function applyMicros(adapter: QueryAdapter): number {
  const q = new Float32Array(adapter.model.dimensions).fill(1 / Math.sqrt(adapter.model.dimensions));
  for (let i = 0; i < 200; i++) adapter.apply(q);
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (let i = 0; i < 2000; i++) adapter.apply(q);
    best = Math.min(best, ((performance.now() - start) * 1000) / 2000);
  }
  return best;
}

const md = adapterMarkdown({ origin, data, model: results[0]?.folds[0]?.report.model ?? encoder.modelId, conversations, results });
await mkdir(resultsDir, { recursive: true });
await writeFile(`${args.out}.md`, md);
await writeFile(`${args.out}.json`, `${JSON.stringify({ benchmark: 'adapter', ...origin, data, grid: GRID, results }, null, 2)}\n`);
console.log(md);
