import { writeFile } from 'node:fs/promises';
import { createRetriever, evaluate, readDataset, type EncoderOptions, type EvalReport, type UnitKind } from '@evomem/core';
import { progressBar, table } from './progress.js';
import { inputFile, outputFile } from './userErrors.js';

export interface EvalFlags {
  data: string;
  format?: 'locomo' | 'longmemeval' | 'memory-log';
  unit: UnitKind;
  retriever: string;
  model?: string;
  /** A path; false with --no-adapter; undefined (or true, commander's default) for the model's own. */
  adapter?: string | boolean;
  k: number[];
  json?: string;
  includeAdversarial: boolean;
  device: EncoderOptions['device'];
  dtype: 'fp32' | 'int8';
  threads?: number;
}

/** `evomem eval`: scores one retriever on one dataset file; table on stdout, JSON on request. */
export async function runEval(flags: EvalFlags): Promise<EvalReport> {
  await inputFile(flags.data, '--data');
  if (flags.json) await outputFile(flags.json, '--json');
  const dataset = await readDataset(flags.data, {
    unit: flags.unit,
    includeAdversarial: flags.includeAdversarial,
    ...(flags.format ? { format: flags.format } : {}),
  });
  const encoder: EncoderOptions = { device: flags.device };
  if (flags.model) encoder.model = flags.model;
  if (flags.threads) encoder.threads = flags.threads;
  if (flags.dtype === 'int8') encoder.dtype = 'int8';
  if (flags.adapter === false) encoder.adapter = false;
  const retriever = await createRetriever(flags.retriever, { encoder, ...(typeof flags.adapter === 'string' ? { adapter: flags.adapter } : {}) });
  const bar = progressBar(`eval ${flags.retriever}`);
  bar.start(dataset.corpora.reduce((n, c) => n + c.questions.length, 0));
  let report: EvalReport;
  try {
    report = await evaluate(dataset, retriever, { ks: flags.k, onProgress: (done) => bar.update(done) });
  } finally {
    bar.stop();
    await retriever.dispose();
  }
  const metricNames = [...flags.k.map((k) => `recall@${k}`), `ndcg@${flags.k.includes(10) ? 10 : flags.k.at(-1)}`, 'mrr'];
  const row = (name: string, m: Record<string, number>, n: number) => [name, String(n), ...metricNames.map((k) => (m[k] ?? 0).toFixed(3))];
  console.log(`${report.retriever} on ${report.data} (${report.format}, ${report.unit} units${report.model ? `, model ${report.model}` : ''})`);
  console.log(
    table(
      ['category', 'questions', ...metricNames],
      [
        ...Object.entries(report.by_category).map(([c, m]) => row(c, m, m.questions)),
        row('all', report.metrics, report.questions),
      ],
    ),
  );
  const skipped = Object.entries(report.skipped_by_reason).map(([why, n]) => `${n} ${why}`);
  if (skipped.length) console.log(`skipped: ${skipped.join(', ')}`);
  if (flags.json) await writeFile(flags.json, `${JSON.stringify(report, null, 2)}\n`);
  return report;
}
