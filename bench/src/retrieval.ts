// pnpm bench:retrieval — bm25, dense and the hybrids on a LoCoMo-format file (default: the
// dev file in ../shared), default model. Writes bench/results/retrieval.{json,md,svg}.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createRetriever, evaluate, readDataset, type EvalReport } from '@evomem/core';
import { lineChart } from './svgChart.js';
import { benchArgs, commandLine, provenance, requireShared, resultsDir, sharedDir } from './shared.js';

const { values: args } = parseArgs({
  args: benchArgs(),
  options: {
    data: { type: 'string' },
    retrievers: { type: 'string', default: 'bm25,dense,hybrid,hybrid-rrf' },
    model: { type: 'string' },
    out: { type: 'string', default: join(resultsDir, 'retrieval') },
  },
});
if (!args.data) requireShared();
const origin = await provenance(commandLine('retrieval'));
const data = args.data ?? join(sharedDir, 'data/locomo/locomo-dev.json');
const CURVE_KS = [1, 2, 3, 5, 7, 10, 15, 20];
const TABLE = ['recall@1', 'recall@5', 'recall@10', 'recall@20', 'ndcg@10', 'mrr'];

const dataset = await readDataset(data);
const reports: EvalReport[] = [];
for (const name of args.retrievers!.split(',')) {
  const retriever = await createRetriever(name, { encoder: { device: 'cpu', ...(args.model ? { model: args.model } : {}) } });
  const started = performance.now();
  reports.push(await evaluate(dataset, retriever, { ks: CURVE_KS }));
  await retriever.dispose();
  console.error(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

const fmt = (v: number | undefined) => (v ?? 0).toFixed(3);
const lines = [
  '# Retrieval on LoCoMo (turn units)',
  '',
  `Data: \`${data}\`, ${reports[0]!.questions} questions (${Object.entries(reports[0]!.skipped_by_reason).map(([r, n]) => `${n} ${r}`).join(', ')} left out).`,
  `Model for dense and hybrids: \`${reports.find((r) => r.model)?.model ?? '-'}\`. Command: \`${origin.command}\` at ${origin.commit}${origin.dirty ? ' (uncommitted changes)' : ''}, ${origin.date}.`,
  '',
  '## All questions',
  '',
  `| retriever | ${TABLE.join(' | ')} |`,
  `|---|${TABLE.map(() => '---').join('|')}|`,
  ...reports.map((r) => `| ${r.retriever} | ${TABLE.map((k) => fmt(r.metrics[k])).join(' | ')} |`),
  '',
  '## recall@10 by category',
  '',
  'LoCoMo categories: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop.',
  '',
];
const categories = [...new Set(reports.flatMap((r) => Object.keys(r.by_category)))].sort();
lines.push(`| retriever | ${categories.map((c) => `${c} (${reports[0]!.by_category[c]?.questions ?? 0} q)`).join(' | ')} |`);
lines.push(`|---|${categories.map(() => '---').join('|')}|`);
for (const r of reports) lines.push(`| ${r.retriever} | ${categories.map((c) => fmt(r.by_category[c]?.['recall@10'])).join(' | ')} |`);
lines.push('', '![recall@k](retrieval.svg)', '');

await mkdir(resultsDir, { recursive: true });
await writeFile(`${args.out}.md`, lines.join('\n'));
await writeFile(`${args.out}.json`, `${JSON.stringify({ benchmark: 'retrieval', ...origin, data, reports }, null, 2)}\n`);
await writeFile(
  `${args.out}.svg`,
  lineChart(
    `recall@k on ${data.split('/').at(-1)}`,
    'k (turns retrieved)',
    'recall@k',
    reports.map((r) => ({ name: r.retriever, points: CURVE_KS.map((k) => [k, r.metrics[`recall@${k}`] ?? 0] as [number, number]) })),
  ),
);
console.log(lines.slice(6, 8 + reports.length).join('\n'));
console.error(`wrote ${args.out}.json, .md, .svg`);
