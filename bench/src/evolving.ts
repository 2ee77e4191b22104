// pnpm bench:evolving — ablation of the evolving encoder on a LoCoMo-format file (default:
// the LoCoMo dev file; `--data ../shared/data/friendsqa/friendsqa-dev.json --out
// bench/results/evolving-friendsqa` for the other), same base encoder (default model, without
// its query adapter: that adapter was trained on the dev files, so scores through it are
// in-sample). Per conversation as well, and two leave-one-conversation-out choices: for each
// conversation, the evolving setting, and the `mix` context weight, with the best recall@10
// on the other conversations, scored on this one.
// Writes bench/results/evolving.{json,md}.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRetriever, evaluate, readDataset, type EvalDataset, type EvalReport, type RetrieverOptions } from '@evomem/core';
import { benchArgs, commandLine, provenance, requireShared, resultsDir, sharedDir, userPath } from './shared.js';

const { values: args } = parseArgs({ args: benchArgs(), options: { data: { type: 'string' }, model: { type: 'string' }, out: { type: 'string', default: join(resultsDir, 'evolving') } } });
if (!args.data) requireShared();
const origin = await provenance(commandLine('evolving'));
const data = args.data ? userPath(args.data) : join(sharedDir, 'data/locomo/locomo-dev.json');
const outPath = userPath(args.out!);
const encoder = { device: 'cpu' as const, adapter: false as const, ...(args.model ? { model: args.model } : {}) };
// The `mix` weights the leave-one-conversation-out choice picks from; 0.5 is ContextOptions.weight's default.
const MIX_WEIGHTS = [0.25, 0.5, 0.75, 1];
const mixRow = (w: number) => `context (mix, weight ${w}) + latent${w === 0.5 ? ' (default)' : ''}`;
const SUM_ROW = 'context (sum) + latent (two passes)';

const rows: { row: string; retriever: string; options: RetrieverOptions }[] = [
  { row: 'static dense', retriever: 'dense', options: {} },
  { row: 'text context only (concat)', retriever: 'evolving', options: { evolving: { latent: false, context: { combine: 'concat' } } } },
  { row: 'text context only (sum)', retriever: 'evolving', options: { evolving: { latent: false, context: { combine: 'sum' } } } },
  { row: 'context only (mix, default)', retriever: 'evolving', options: { evolving: { latent: false } } },
  { row: 'latent read-out only', retriever: 'evolving', options: { evolving: { context: false } } },
  { row: 'context + latent, capacity 64', retriever: 'evolving', options: { evolving: { capacity: 64 } } },
  { row: 'context + latent, unbounded', retriever: 'evolving', options: { evolving: { capacity: Infinity } } },
  ...MIX_WEIGHTS.map((w) => ({ row: mixRow(w), retriever: 'evolving', options: { evolving: { context: { weight: w } } } })),
  { row: SUM_ROW, retriever: 'evolving', options: { evolving: { context: { combine: 'sum' as const } } } },
  { row: 'context (concat) + latent', retriever: 'evolving', options: { evolving: { context: { combine: 'concat' } } } },
  { row: 'context 1 turn + latent', retriever: 'evolving', options: { evolving: { context: { turns: 1 } } } },
  { row: 'context 4 turns + latent', retriever: 'evolving', options: { evolving: { context: { turns: 4 } } } },
  { row: 'bm25', retriever: 'bm25', options: {} },
  { row: 'hybrid (bm25 + static dense)', retriever: 'hybrid', options: {} },
  { row: 'evolving-hybrid (bm25 + evolving, default mix)', retriever: 'evolving-hybrid', options: {} },
  { row: 'evolving-hybrid, context sum', retriever: 'evolving-hybrid', options: { evolving: { context: { combine: 'sum' } } } },
];

const full = await readDataset(data);
const only = (id: string): EvalDataset => ({ ...full, corpora: full.corpora.filter((c) => c.id === id) });
const conversations = full.corpora.map((c) => c.id);
const results: { row: string; retriever: string; all: EvalReport; perConversation: Record<string, EvalReport>; seconds: number }[] = [];
for (const { row, retriever: name, options } of rows) {
  const retriever = await createRetriever(name, { ...options, encoder });
  const started = performance.now();
  const all = await evaluate(full, retriever);
  const seconds = (performance.now() - started) / 1000;
  const perConversation: Record<string, EvalReport> = {};
  for (const id of conversations) perConversation[id] = await evaluate(only(id), retriever);
  await retriever.dispose();
  results.push({ row, retriever: name, all, perConversation, seconds });
  console.error(`${row}: recall@10 ${all.metrics['recall@10']!.toFixed(3)} (${seconds.toFixed(1)} s)`);
}

// Leave one conversation out: each conversation scores the evolving setting that did best
// on the others (question-weighted), so no setting is picked on the data it is scored on.
const evolvingRows = results.filter((r) => r.retriever === 'evolving');
const recallOn = (r: (typeof results)[number], ids: string[]) => {
  const n = ids.reduce((s, id) => s + r.perConversation[id]!.questions, 0);
  return ids.reduce((s, id) => s + r.perConversation[id]!.metrics['recall@10']! * r.perConversation[id]!.questions, 0) / n;
};
const loco = conversations.map((heldOut) => {
  const others = conversations.filter((c) => c !== heldOut);
  const chosen = evolvingRows.reduce((a, b) => (recallOn(b, others) > recallOn(a, others) ? b : a));
  return { heldOut, chosen: chosen.row, onOthers: recallOn(chosen, others), onHeldOut: recallOn(chosen, [heldOut]), questions: chosen.perConversation[heldOut]!.questions };
});
const locoPooled = loco.reduce((s, x) => s + x.onHeldOut * x.questions, 0) / loco.reduce((s, x) => s + x.questions, 0);

// The `mix` weight the same way, against the two-pass `sum` mode, which has nothing to choose.
const byRow = (row: string) => results.find((r) => r.row === row)!;
const weightFolds = conversations.map((heldOut) => {
  const others = conversations.filter((c) => c !== heldOut);
  const chosen = MIX_WEIGHTS.reduce((a, b) => (recallOn(byRow(mixRow(b)), others) > recallOn(byRow(mixRow(a)), others) ? b : a));
  const questions = byRow(SUM_ROW).perConversation[heldOut]!.questions;
  return { heldOut, weight: chosen, onOthers: recallOn(byRow(mixRow(chosen)), others), onHeldOut: recallOn(byRow(mixRow(chosen)), [heldOut]), sumOnHeldOut: recallOn(byRow(SUM_ROW), [heldOut]), questions };
});
const pooled = (key: 'onHeldOut' | 'sumOnHeldOut') => weightFolds.reduce((s, x) => s + x[key] * x.questions, 0) / weightFolds.reduce((s, x) => s + x.questions, 0);
const mixChoice = { weights: MIX_WEIGHTS, folds: weightFolds, pooledRecallAt10: pooled('onHeldOut'), sumPooledRecallAt10: pooled('sumOnHeldOut'), chosenWeights: [...new Set(weightFolds.map((x) => x.weight))].sort((a, b) => a - b) };
const staticRow = results.find((r) => r.row === 'static dense');

const f = (v: number | undefined) => (v ?? 0).toFixed(3);
const cats = ['1', '2', '3', '4'];
const lines = [
  `# Evolving encoder ablation (${basename(data)}, turn units)`,
  '',
  `Command: \`${origin.command}\` at ${origin.commit}${origin.dirty ? ' (uncommitted changes)' : ''}, ${origin.date}. Data: \`${data}\`, ${results[0]!.all.questions} questions. Base encoder for every dense row: \`${results[0]!.all.model}\`, without a query adapter.`,
  '',
  `| row | recall@5 | recall@10 | temporal (cat 2) r@10 | ${cats.filter((c) => c !== '2').map((c) => `cat ${c} r@10`).join(' | ')} | ${conversations.map((c) => `${c} r@10`).join(' | ')} |`,
  `|---|---|---|---|${cats.filter((c) => c !== '2').map(() => '---').join('|')}|${conversations.map(() => '---').join('|')}|`,
  ...results.map(
    (r) =>
      `| ${r.row} | ${f(r.all.metrics['recall@5'])} | ${f(r.all.metrics['recall@10'])} | ${f(r.all.by_category['2']?.['recall@10'])} | ${cats
        .filter((c) => c !== '2')
        .map((c) => f(r.all.by_category[c]?.['recall@10']))
        .join(' | ')} | ${conversations.map((c) => f(r.perConversation[c]!.metrics['recall@10'])).join(' | ')} |`,
  ),
  '',
  '## Evolving setting chosen leave-one-conversation-out',
  '',
  `For each conversation, the evolving row (of the ${evolvingRows.length} above) with the best recall@10 on the other conversation(s), scored on this one.`,
  '',
  '| held out | chosen on the others | its r@10 on the others | its r@10 held out | static dense r@10 held out |',
  '|---|---|---|---|---|',
  ...loco.map((x) => `| ${x.heldOut} | ${x.chosen} | ${f(x.onOthers)} | ${f(x.onHeldOut)} | ${f(staticRow?.perConversation[x.heldOut]!.metrics['recall@10'])} |`),
  '',
  `Pooled over the held-out conversations (question-weighted): recall@10 ${f(locoPooled)}${staticRow ? `, against static dense ${f(staticRow.all.metrics['recall@10'])} (${locoPooled - staticRow.all.metrics['recall@10']! >= 0 ? '+' : ''}${(locoPooled - staticRow.all.metrics['recall@10']!).toFixed(3)})` : ''}.`,
  '',
  '## Context `mix` weight chosen leave-one-conversation-out, against `sum`',
  '',
  `For each conversation, the \`mix\` weight (of ${MIX_WEIGHTS.join(', ')}; context + latent) with the best recall@10 on the other conversation(s), scored on this one; \`sum\` (two encoder passes per turn) has no weight to choose.`,
  '',
  '| held out | weight chosen on the others | its r@10 on the others | its r@10 held out | sum r@10 held out |',
  '|---|---|---|---|---|',
  ...weightFolds.map((x) => `| ${x.heldOut} | ${x.weight} | ${f(x.onOthers)} | ${f(x.onHeldOut)} | ${f(x.sumOnHeldOut)} |`),
  '',
  `Pooled (question-weighted): \`mix\` ${f(mixChoice.pooledRecallAt10)}, \`sum\` ${f(mixChoice.sumPooledRecallAt10)}. Weights chosen: ${mixChoice.chosenWeights.join(', ')}.`,
  '',
];
await mkdir(dirname(outPath), { recursive: true });
await writeFile(`${outPath}.md`, lines.join('\n'));
await writeFile(`${outPath}.json`, `${JSON.stringify({ benchmark: 'evolving', ...origin, data, leaveOneConversationOut: { choices: loco, pooledRecallAt10: locoPooled }, mixWeightLeaveOneConversationOut: mixChoice, results }, null, 2)}\n`);
console.log(lines.join('\n'));
