// pnpm bench:encoder — evomem's encoder against transformers.js feature-extraction on the same
// ONNX files with the same onnxruntime session options (and, for the offline default model,
// against its TF.js reference runtime), same texts.
//
// Per model, in this order, to fit in 10 minutes on a 2-core machine:
// 1. sweep: evomem and every baseline setting once on the first --sweep-texts texts
//    (transformers.js: input-order batches of 1, 4, 8, 16, 32, 128, then length-sorted
//    batches of 8, 32, 128 and the best input-order size; TF.js: batches of 32 and 128,
//    sorted 32, and one call with every text);
// 2. full: evomem and the baseline's best sweep setting --repeat times interleaved (best
//    sample kept), and transformers.js's default usage, one call with every text, once, on
//    all --texts texts; for use-lite also evomem on 1 thread, as TF.js runs;
// 3. operator shares: onnxruntime's profiler over evomem's batch shapes (operatorShares.ts).
// Writes bench/results/encoder.{json,md}. --smoke runs a tiny version into bench/.work.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { TextTokenizer } from '@evomem/core';
import { measureGemmRate } from './gemm.js';
import { BENCH_MODELS, benchModel, type BenchModel } from './models.js';
import type { OperatorProfile } from './operatorShares.js';
import { sessionOptions, type ChildConfig, type ChildResult } from './sessionOptions.js';
import { benchArgs, benchRoot, commandLine, cycle, locomoTurns, provenance, requireShared, resultsDir, table, workDir } from './shared.js';

const started = performance.now();
const { values: args } = parseArgs({
  args: benchArgs(),
  options: {
    texts: { type: 'string', default: process.env.EVOMEM_BENCH_TEXTS ?? '1000' },
    'sweep-texts': { type: 'string', default: '256' },
    'profile-texts': { type: 'string', default: '200' },
    models: { type: 'string' },
    threads: { type: 'string', default: String(availableParallelism()) },
    'max-batch-tokens': { type: 'string' },
    repeat: { type: 'string', default: '2' },
    smoke: { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
requireShared();
const smoke = args.smoke!;
const threads = Number(args.threads);
const repeat = smoke ? 1 : Number(args.repeat);
const fullCount = smoke ? 64 : Number(args.texts);
const sweepCount = Math.min(fullCount, smoke ? 32 : Number(args['sweep-texts']));
const profileCount = smoke ? 32 : Number(args['profile-texts']);
const models = args.models ?? (smoke ? 'all-MiniLM-L6-v2,use-lite' : BENCH_MODELS.join(','));
const out = args.out ?? (smoke ? join(workDir, 'encoder-smoke') : join(resultsDir, 'encoder'));
const origin = await provenance(commandLine('encoder'));

const texts = cycle(await locomoTurns(), fullCount);
await mkdir(workDir, { recursive: true });
const textsFile = (n: number) => join(workDir, `encoder-texts-${n}.json`);
for (const n of new Set([fullCount, sweepCount, profileCount])) await writeFile(textsFile(n), JSON.stringify(texts.length >= n ? texts.slice(0, n) : cycle(texts, n)));

type Setting = Pick<ChildConfig, 'runner' | 'order' | 'batch'> & { threads?: number };
const label = (s: Setting) =>
  s.runner === 'evomem' ? `evomem${s.threads && s.threads !== threads ? `, ${s.threads} thread${s.threads > 1 ? 's' : ''}` : ''}` : s.order === 'all' ? 'one call, every text' : `${s.order === 'sorted' ? 'sorted' : 'input order'}, batch ${s.batch}`;

async function child(model: BenchModel, s: Setting, n: number): Promise<ChildResult> {
  const config: ChildConfig = {
    runner: s.runner,
    modelDir: model.dir,
    threads: s.threads ?? threads,
    textsFile: textsFile(n),
    ...(s.order ? { order: s.order } : {}),
    ...(s.batch ? { batch: s.batch } : {}),
    ...(args['max-batch-tokens'] ? { maxBatchTokens: Number(args['max-batch-tokens']) } : {}),
  };
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(benchRoot, 'src', 'encoderChild.ts'), JSON.stringify(config)], {
    cwd: benchRoot,
    maxBuffer: 1 << 24,
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as ChildResult;
}

async function profile(model: BenchModel): Promise<OperatorProfile> {
  const config = { modelDir: model.dir, threads, textsFile: textsFile(profileCount), scratchDir: join(workDir, `profile-${model.name}`) };
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', join(benchRoot, 'src', 'operatorShares.ts'), JSON.stringify(config)], {
    cwd: benchRoot,
    maxBuffer: 1 << 24,
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as OperatorProfile;
}

/** Tokens a padding runtime executes: each batch padded to its longest text. */
function paddedTokens(lengths: number[], s: Setting): number {
  const order = s.order === 'sorted' ? [...lengths].sort((a, b) => a - b) : lengths;
  const batch = s.order === 'all' ? lengths.length : s.batch!;
  let total = 0;
  for (let i = 0; i < order.length; i += batch) total += Math.max(...order.slice(i, i + batch)) * Math.min(batch, order.length - i);
  return total;
}

const runs: Record<string, unknown>[] = [];
const ratios: Record<string, Record<string, number | string>> = {};
const operatorShares: Record<string, OperatorProfile> = {};
const rows: (string | number)[][] = [];
const readmeRows: string[][] = [];
const fmtRatio = (x: number) => Number(x.toFixed(3));
console.error(`${fullCount} LoCoMo turns (sweep on the first ${sweepCount}), ${threads} threads, ${cpus()[0]?.model ?? 'unknown CPU'}${smoke ? ', smoke run' : ''}`);

for (const name of models.split(',')) {
  const model = await benchModel(name);
  const tokenizer = new TextTokenizer(
    JSON.parse(await readFile(join(model.dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(await readFile(join(model.dir, 'tokenizer_config.json'), 'utf8')),
  );
  const lengthsOf = (n: number) => texts.slice(0, n).map((t, i) => tokenizer.encode(t, model.maxLength, 'truncate', i)[0]!.length);
  const gemm = await measureGemmRate(model.gemm[0], model.gemm[1], threads);
  const baseline = model.baseline;
  const record = (phase: 'sweep' | 'full', n: number, s: Setting, samples: ChildResult[]) => {
    const r = samples.reduce((best, x) => (x.sentencesPerSecond > best.sentencesPerSecond ? x : best));
    const lengths = lengthsOf(n);
    const realTokens = lengths.reduce((a, b) => a + b, 0);
    const estimated = r.executedTokens === undefined;
    const executed = r.executedTokens ?? paddedTokens(lengths, s);
    const fraction = model.flops(lengths) / r.seconds / gemm;
    const run = {
      model: name,
      phase,
      texts: n,
      runner: s.runner,
      setting: label(s),
      threads: r.runtimeThreads ?? null,
      sentencesPerSecond: r.sentencesPerSecond,
      samplesSentencesPerSecond: samples.map((x) => x.sentencesPerSecond),
      seconds: r.seconds,
      realTokens,
      executedTokens: executed,
      executedTokensEstimated: estimated,
      p50CallMs: r.p50BatchMs,
      modelCalls: r.modelCalls,
      peakRssMiB: r.peakRssMiB,
      fractionOfGemmCeiling: fraction,
    };
    runs.push(run);
    rows.push([
      name,
      `${phase} ${n}`,
      s.runner,
      run.setting,
      r.sentencesPerSecond.toFixed(1),
      `${executed}${estimated ? ' (est.)' : ''}`,
      (executed / realTokens).toFixed(2),
      r.p50BatchMs.toFixed(1),
      r.peakRssMiB.toFixed(0),
      fraction.toFixed(2),
    ]);
    return run;
  };

  // 1. Sweep.
  const defaultUsage: Setting = { runner: baseline, order: 'all' };
  const sweep: Setting[] =
    baseline === 'transformers.js'
      ? (smoke ? [4] : [1, 4, 8, 16, 32, 128]).map((batch) => ({ runner: baseline, order: 'input' as const, batch }))
      : [
          { runner: baseline, order: 'input', batch: 32 },
          ...(smoke ? [] : [{ runner: baseline, order: 'input' as const, batch: 128 }]),
          { runner: baseline, order: 'sorted', batch: 32 },
          defaultUsage,
        ];
  const swept: { s: Setting; sps: number }[] = [];
  const sweepOne = async (s: Setting) => {
    const run = record('sweep', sweepCount, s, [await child(model, s, sweepCount)]);
    swept.push({ s, sps: run.sentencesPerSecond });
    console.error(`  ${name} sweep ${label(s)}: ${run.sentencesPerSecond.toFixed(1)} sentences/s, ${run.peakRssMiB.toFixed(0)} MiB`);
  };
  const oursOnSweep = record('sweep', sweepCount, { runner: 'evomem' }, [await child(model, { runner: 'evomem' }, sweepCount)]);
  for (const s of sweep) await sweepOne(s);
  if (baseline === 'transformers.js') {
    const bestInput = swept.reduce((a, b) => (b.sps > a.sps ? b : a)).s.batch!;
    // Sorting pays off at larger batches than input order does; batch 1 gains nothing from it.
    const sortedSizes = smoke ? [Math.max(bestInput, 4)] : [...new Set([8, 32, 128, bestInput])].filter((b) => b > 1);
    for (const batch of sortedSizes) await sweepOne({ runner: baseline, order: 'sorted', batch });
  }
  const best = swept.filter((x) => x.s.order !== 'all').reduce((a, b) => (b.sps > a.sps ? b : a)).s;

  // 2. Full workload: evomem and the best setting `repeat` times, interleaved; transformers.js's
  // default usage (its slowest setting) once. TF.js's one-call usage stays on the sweep
  // subset: one call holding every text grows its WASM heap with the batch.
  const full: { s: Setting; rounds: number }[] = [
    { s: { runner: 'evomem' }, rounds: repeat },
    { s: best, rounds: repeat },
  ];
  if (baseline === 'transformers.js') full.push({ s: defaultUsage, rounds: 1 });
  else if (threads !== 1) full.push({ s: { runner: 'evomem', threads: 1 }, rounds: repeat });
  const samples: ChildResult[][] = full.map(() => []);
  for (let round = 0; round < repeat; round++) {
    for (const [i, { s, rounds }] of full.entries()) {
      if (round >= rounds) continue;
      const r = await child(model, s, fullCount);
      samples[i]!.push(r);
      console.error(`  ${name} full ${label(s)}: ${r.sentencesPerSecond.toFixed(1)} sentences/s, ${r.peakRssMiB.toFixed(0)} MiB`);
    }
  }
  const [ours, theirs, extra] = full.map(({ s }, i) => record('full', fullCount, s, samples[i]!));
  const sweptDefault = swept.find((y) => y.s.order === 'all')!;
  ratios[name] = {
    baseline: baseline === 'transformers.js' ? 'transformers.js 4.3.1 feature-extraction' : 'TF.js reference (@energetic-ai/embeddings 0.2.0, tfjs-backend-wasm)',
    bestSetting: label(best),
    vsBest: fmtRatio(ours!.sentencesPerSecond / theirs!.sentencesPerSecond),
    peakRssVsBest: fmtRatio(ours!.peakRssMiB / theirs!.peakRssMiB),
  };
  if (baseline === 'transformers.js') {
    Object.assign(ratios[name], { vsDefault: fmtRatio(ours!.sentencesPerSecond / extra!.sentencesPerSecond), peakRssVsDefault: fmtRatio(ours!.peakRssMiB / extra!.peakRssMiB) });
  } else {
    Object.assign(ratios[name], { vsDefaultOnSweep: fmtRatio(oursOnSweep.sentencesPerSecond / sweptDefault.sps) });
    if (extra) Object.assign(ratios[name], { oneThreadVsBest: fmtRatio(extra.sentencesPerSecond / theirs!.sentencesPerSecond) });
  }
  const x = (v: number) => `${v.toFixed(2)}x`;
  const sps = (v: number) => v.toFixed(1);
  const oneCall = baseline === 'transformers.js' ? extra! : undefined;
  readmeRows.push([
    name === 'use-lite' ? 'use-lite (the default)' : name,
    `${baseline === 'transformers.js' ? 'transformers.js' : 'TF.js reference'}, ${label(best)}`,
    sps(ours!.sentencesPerSecond),
    sps(theirs!.sentencesPerSecond),
    `**${x(ours!.sentencesPerSecond / theirs!.sentencesPerSecond)}**${baseline !== 'transformers.js' && extra ? `; ${x(extra.sentencesPerSecond / theirs!.sentencesPerSecond)} on 1 thread` : ''}`,
    oneCall ? sps(oneCall.sentencesPerSecond) : `${sps(sweptDefault.sps)} (first ${sweepCount} texts)`,
    oneCall ? x(ours!.sentencesPerSecond / oneCall.sentencesPerSecond) : `${x(oursOnSweep.sentencesPerSecond / sweptDefault.sps)} (first ${sweepCount} texts)`,
    `${ours!.peakRssMiB.toFixed(0)} / ${theirs!.peakRssMiB.toFixed(0)}${oneCall ? ` / ${oneCall.peakRssMiB.toFixed(0)}` : ''}`,
    `${(ours!.executedTokens / ours!.realTokens).toFixed(2)} / ${(theirs!.executedTokens / theirs!.realTokens).toFixed(2)} (est.)`,
  ]);
  runs.push({ model: name, runner: 'flop-bound estimate', gemmGflopsPerSecond: gemm / 1e9, sentencesPerSecond: fullCount / (model.flops(lengthsOf(fullCount)) / gemm) });

  // 3. Operator shares of kernel time.
  operatorShares[name] = await profile(model);
  const top = Object.entries(operatorShares[name].shares).slice(0, 4);
  console.error(`  ${name} kernel time: ${top.map(([op, x]) => `${op} ${(x * 100).toFixed(1)}%`).join(', ')}`);
}

const headers = ['model', 'phase, texts', 'runner', 'setting', 'sentences/s', 'executed tokens', 'exec/real', 'p50 call ms', 'peak RSS MiB', 'of GEMM ceiling'];
const wallSeconds = (performance.now() - started) / 1000;
const ratioLines = Object.entries(ratios).map(([m, r]) => `- ${m}: ${JSON.stringify(r)}`);
const shareLines = Object.entries(operatorShares).map(
  ([m, p]) =>
    `- ${m}: ${Object.entries(p.shares)
      .filter(([, x]) => x >= 0.005)
      .map(([op, x]) => `${op} ${(x * 100).toFixed(1)}%`)
      .join(', ')}; optimized graph: ${Object.entries(p.optimizedGraphOps)
      .map(([op, n]) => `${n} ${op}`)
      .join(', ')}`,
);
const md = [
  '# Encoder throughput and memory',
  '',
  `Command: \`${origin.command}\` at ${origin.commit}${origin.dirty ? ' (uncommitted changes)' : ''}, ${origin.date}. ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${threads} threads, fp32. Whole run: ${wallSeconds.toFixed(0)} s.`,
  '',
  `Sweep: each setting once on the first ${sweepCount} texts. Full: ${fullCount} LoCoMo turns; evomem and the best baseline setting ${repeat} time(s) interleaved, best sample kept; the default usage once. Executed tokens marked (est.) are estimated as each batch padded to its longest text; evomem's are counted.`,
  '',
  table(headers, rows),
  '',
  'Ratios (evomem / baseline sentences per second, and peak RSS; on the full workload unless named):',
  '',
  ...ratioLines,
  '',
  'The root README\'s table (evomem / baseline: sentences per second; peak RSS: evomem / best setting / one call; executed / real tokens: evomem / best setting):',
  '',
  table(['model', 'baseline, best setting', 'evomem (sentences/s)', 'baseline, best (sentences/s)', 'evomem / best', 'baseline, one call (sentences/s)', 'evomem / one call', 'peak RSS (MiB)', 'executed / real tokens'], readmeRows),
  '',
  `Share of onnxruntime kernel time by operator (profiler, evomem's batch shapes for ${profileCount} texts):`,
  '',
  ...shareLines,
  '',
];
const result = {
  benchmark: 'encoder',
  ...origin,
  wallSeconds,
  machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version },
  threads,
  sessionOptions: sessionOptions(threads),
  sessionOptionsNote:
    'evomem and transformers.js open their onnxruntime-node 1.30.0 sessions with these options. The TF.js reference runs on tfjs-backend-wasm with SIMD, which under Node uses its single-threaded build (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE): its threads cannot be set, and it runs on 1. The use-lite rows therefore add evomem on 1 thread.',
  repeat,
  workload: {
    texts: fullCount,
    sweepTexts: sweepCount,
    profileTexts: profileCount,
    source: 'shared/data/locomo/locomo-dev.json turns "speaker: text", file order, cycled',
    why: 'The sweep runs each setting once on a subset, and the full workload runs only evomem, the best sweep setting and (once) the default usage, so the whole benchmark fits in 10 minutes on a 2-core machine.',
  },
  ratios,
  ratiosNote:
    'vsBest: evomem / the baseline at its fastest sweep setting, both on the full workload. vsDefault: evomem / transformers.js called once with every text (its default usage). For use-lite, vsDefaultOnSweep compares on the sweep subset, and oneThreadVsBest is evomem on 1 thread, as the TF.js reference runs. peakRss*: evomem peak RSS / the baseline\'s.',
  executedTokensNote: 'executedTokensEstimated: true means the count is estimated (each batch padded to its longest text, from the model tokenizer); evomem counts what it runs.',
  operatorShares,
  operatorSharesNote: `Share of summed kernel time per operator type, from onnxruntime's profiler (enableProfiling) over evomem's batch shapes for ${profileCount} texts, with the session options above; optimizedGraphOps counts the node types of the graph onnxruntime optimized (optimizedModelFilePath).`,
  runs,
};
await mkdir(join(out, '..'), { recursive: true });
await writeFile(`${out}.json`, `${JSON.stringify(result, null, 2)}\n`);
await writeFile(`${out}.md`, md.join('\n'));
console.log(md.slice(4).join('\n'));
console.error(`wrote ${out}.json and .md in ${wallSeconds.toFixed(0)} s`);
