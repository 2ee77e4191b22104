// pnpm bench:evolving — ablation of the evolving encoder on a LoCoMo-format file (default:
// the dev file), same base encoder (default model). Per conversation as well, so a setting
// chosen on one conversation can be checked on the other (leave-one-conversation-out).
// Writes bench/results/evolving.{json,md}.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRetriever, evaluate, readDataset, type EvalDataset, type EvalReport, type RetrieverOptions } from '@evomem/core';
import { requireShared, resultsDir, sharedDir } from './shared.js';

const { values: args } = parseArgs({ options: { data: { type: 'string' }, model: { type: 'string' }, out: { type: 'string', default: join(resultsDir, 'evolving') } } });
if (!args.data) requireShared();
const data = args.data ?? join(sharedDir, 'data/locomo/locomo-dev.json');
const encoder = { device: 'cpu' as const, ...(args.model ? { model: args.model } : {}) };

const rows: { row: string; retriever: string; options: RetrieverOptions }[] = [
  { row: 'static dense', retriever: 'dense', options: {} },
  { row: 'text context only (concat)', retriever: 'evolving', options: { evolving: { latent: false, context: { combine: 'concat' } } } },
  { row: 'text context only (sum, default)', retriever: 'evolving', options: { evolving: { latent: false } } },
  { row: 'latent read-out only', retriever: 'evolving', options: { evolving: { context: false } } },
  { row: 'context + latent, capacity 64', retriever: 'evolving', options: { evolving: { capacity: 64 } } },
  { row: 'context + latent, capacity 512 (default)', retriever: 'evolving', options: {} },
  { row: 'context + latent, unbounded', retriever: 'evolving', options: { evolving: { capacity: Infinity } } },
  { row: 'context (concat) + latent', retriever: 'evolving', options: { evolving: { context: { combine: 'concat' } } } },
  { row: 'context 1 turn + latent', retriever: 'evolving', options: { evolving: { context: { turns: 1 } } } },
  { row: 'context 4 turns + latent', retriever: 'evolving', options: { evolving: { context: { turns: 4, maxTokens: 96 } } } },
  { row: 'bm25', retriever: 'bm25', options: {} },
  { row: 'hybrid (bm25 + static dense)', retriever: 'hybrid', options: {} },
  { row: 'evolving-hybrid (bm25 + evolving)', retriever: 'evolving-hybrid', options: {} },
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

const f = (v: number | undefined) => (v ?? 0).toFixed(3);
const cats = ['1', '2', '3', '4'];
const lines = [
  '# Evolving encoder ablation (LoCoMo, turn units)',
  '',
  `Command: \`pnpm bench:evolving\`. Data: \`${data}\`, ${results[0]!.all.questions} questions. Base encoder for every dense row: \`${results[0]!.all.model}\`.`,
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
];
await mkdir(resultsDir, { recursive: true });
await writeFile(`${args.out}.md`, lines.join('\n'));
await writeFile(`${args.out}.json`, `${JSON.stringify({ benchmark: 'evolving', command: 'pnpm bench:evolving', date: new Date().toISOString(), data, results }, null, 2)}\n`);
console.log(lines.join('\n'));
