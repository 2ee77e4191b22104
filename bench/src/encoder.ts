// pnpm bench:encoder — evomem's encoder against transformers.js feature-extraction on the same
// ONNX files with the same onnxruntime session options (and, for the offline default model,
// against its TF.js reference runtime), same texts, at fp32 and at int8.
//
// Per model, in this order, to fit in 10 minutes on a 2-core machine:
// 0. prepare: evomem loads the model with its defaults (the exported fp32 graph), with
//    optimize: true (its fused rewrite) and with dtype 'int8', which writes both rewrites to
//    the model's cache; transformers.js gets a folder holding that same int8 file as
//    onnx/model_int8.onnx (transformersJsFolder.ts);
// 1. sweep, each setting once on the first --sweep-texts texts: evomem fp32 and int8, and
//    transformers.js at fp32 and on the int8 file in input-order batches of 1, 4, 8 and
//    length-sorted batches of 8, 16, 32 (the committed sweep over 1-128 found sorted 8 best
//    on both models, input order best at 1 or 8). The TF.js reference, 10x slower, sweeps
//    input-order and sorted batches of 32 and one call on the first --reference-texts texts;
// 2. full, on all --texts texts, --repeat rounds interleaved (best sample kept): evomem (its
//    default, the exported graph), evomem fused (optimize: true), evomem int8, and the baseline's best fp32 and int8
//    sweep settings; transformers.js's default usage (one call with every text) in the first
//    round only; TF.js's best setting in the first round only; for use-lite also evomem on 1
//    thread, as TF.js runs. The fused and int8 runs write their vectors, for the cosines;
// 3. operator shares: onnxruntime's profiler over the graph evomem runs by default (operatorShares.ts);
// then recall@10 of the default pipeline at fp32 and int8 on both dev files (encoderRecall.ts).
// Writes bench/results/encoder.{json,md}. --smoke runs a tiny version into bench/.work.
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { Encoder, TextTokenizer, type PreparedGraph } from '@evomem/core';
import { int8RecallAt10 } from './encoderRecall.js';
import { encoderMarkdown, encoderNotes, label, readmeRow, type Run, type Setting } from './encoderReport.js';
import { measureGemmRate } from './gemm.js';
import { BENCH_MODELS, benchModel, type BenchModel } from './models.js';
import type { OperatorProfile } from './operatorShares.js';
import { sessionOptions, type ChildConfig, type ChildResult } from './sessionOptions.js';
import { benchArgs, benchRoot, commandLine, cycle, locomoTurns, provenance, requireShared, resultsDir, workDir } from './shared.js';
import { transformersJsInt8Folder } from './transformersJsFolder.js';
import { vectorCosines } from './vectorCosines.js';

const started = performance.now();
const { values: args } = parseArgs({
  args: benchArgs(),
  options: {
    texts: { type: 'string', default: process.env.EVOMEM_BENCH_TEXTS ?? '1000' },
    'sweep-texts': { type: 'string', default: '256' },
    'reference-texts': { type: 'string', default: '128' },
    'profile-texts': { type: 'string', default: '200' },
    models: { type: 'string' },
    threads: { type: 'string', default: String(availableParallelism()) },
    'max-batch-tokens': { type: 'string' },
    repeat: { type: 'string', default: '2' },
    'skip-recall': { type: 'boolean', default: false },
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
const referenceCount = Math.min(sweepCount, smoke ? 32 : Number(args['reference-texts']));
const profileCount = smoke ? 32 : Number(args['profile-texts']);
const models = args.models ?? (smoke ? 'all-MiniLM-L6-v2,use-lite' : BENCH_MODELS.join(','));
const out = args.out ?? (smoke ? join(workDir, 'encoder-smoke') : join(resultsDir, 'encoder'));
const origin = await provenance(commandLine('encoder'));
const repoPath = (path: string) => relative(join(benchRoot, '..'), path);

const texts = cycle(await locomoTurns(), fullCount);
await mkdir(workDir, { recursive: true });
const textsFile = (n: number) => join(workDir, `encoder-texts-${n}.json`);
for (const n of new Set([fullCount, sweepCount, referenceCount, profileCount])) await writeFile(textsFile(n), JSON.stringify(texts.length >= n ? texts.slice(0, n) : cycle(texts, n)));

const run = promisify(execFile);
/** Model folders with something evomem fuses (set by prepare); elsewhere a fused row runs the exported graph. */
const fusable = new Set<string>();
async function node<T>(script: string, config: object): Promise<T> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', join(benchRoot, 'src', script), JSON.stringify(config)], {
    cwd: benchRoot,
    maxBuffer: 1 << 24,
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as T;
}

async function child(modelDir: string, s: Setting, n: number, vectorsFile?: string): Promise<ChildResult> {
  const config: ChildConfig = {
    runner: s.runner,
    modelDir,
    threads: s.threads ?? threads,
    textsFile: textsFile(n),
    ...(s.order ? { order: s.order } : {}),
    ...(s.batch ? { batch: s.batch } : {}),
    ...(s.dtype ? { dtype: s.dtype } : {}),
    ...(s.optimize !== undefined ? { optimize: s.optimize } : {}),
    ...(vectorsFile ? { vectorsFile } : {}),
    ...(args['max-batch-tokens'] ? { maxBatchTokens: Number(args['max-batch-tokens']) } : {}),
  };
  const result = await node<ChildResult>('encoderChild.ts', config);
  // A row is only what its label says if evomem ran the graph that setting asks for.
  const expected = s.dtype === 'int8' ? 'int8' : s.optimize ? 'fused' : 'none';
  if (s.runner === 'evomem' && result.graph && result.graph.transform !== expected && !(expected === 'fused' && result.graph.transform === 'none' && !fusable.has(modelDir))) {
    throw new Error(`${label(s, threads)} (${s.dtype ?? 'fp32'}) ran a '${result.graph.transform}' graph, not '${expected}'`);
  }
  return result;
}

type Variant = 'fp32' | 'fused' | 'int8';
const VARIANTS: Record<Variant, { dtype: 'fp32' | 'int8'; optimize?: true }> = { fp32: { dtype: 'fp32' }, fused: { dtype: 'fp32', optimize: true }, int8: { dtype: 'int8' } };

/** Loads the model as evomem's users do (the exported graph by default, fused with optimize: true, and int8), which writes both rewrites to the model's cache before any timed run. */
async function prepare(model: BenchModel): Promise<Record<Variant, PreparedGraph>> {
  const graphs: Partial<Record<Variant, PreparedGraph>> = {};
  for (const [variant, options] of Object.entries(VARIANTS) as [Variant, (typeof VARIANTS)[Variant]][]) {
    const encoder = await Encoder.load({ model: model.dir, device: 'cpu', threads, ...options });
    graphs[variant] = encoder.graph;
    await encoder.dispose();
  }
  if (graphs.fused!.transform === 'fused') fusable.add(model.dir);
  else console.error(`  warning: ${model.name} has nothing evomem fuses (${graphs.fused!.transform}): the "evomem, fused" rows measure the exported graph`);
  return graphs as Record<Variant, PreparedGraph>;
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
const int8: Record<string, Record<string, unknown>> = {};
const int8Ratios: Record<string, Record<string, number | string>> = {};
const fused: Record<string, Record<string, unknown>> = {};
const graphs: Record<string, Record<Variant, Record<string, unknown>>> = {};
const operatorShares: Record<string, OperatorProfile> = {};
const partSeconds: Record<string, number> = {};
const readmeRows: string[][] = [];
const fmt = (x: number) => Number(x.toFixed(3));
const sps = (v: number) => v.toFixed(1);
console.error(`${fullCount} LoCoMo turns (sweep on the first ${sweepCount}, TF.js on the first ${referenceCount}), ${threads} threads, ${cpus()[0]?.model ?? 'unknown CPU'}${smoke ? ', smoke run' : ''}`);

for (const name of models.split(',')) {
  const partStarted = performance.now();
  const model = await benchModel(name);
  const tokenizer = new TextTokenizer(
    JSON.parse(await readFile(join(model.dir, 'tokenizer.json'), 'utf8')),
    JSON.parse(await readFile(join(model.dir, 'tokenizer_config.json'), 'utf8')),
  );
  const lengthsOf = (n: number) => texts.slice(0, n).map((t, i) => tokenizer.encode(t, model.maxLength, 'truncate', i)[0]!.length);
  // The ceiling is measured again after the full rounds and the higher rate kept: one
  // measurement taken while something else ran would make every fraction look better.
  let gemm = await measureGemmRate(model.gemm[0], model.gemm[1], threads);
  const baseline = model.baseline;
  const tjs = baseline === 'transformers.js';

  // 0. Prepare.
  const prepared = await prepare(model);
  const graphSummary = ({ path, transform, fusions, quantized, minCosineToSource }: PreparedGraph) => ({
    path: repoPath(path),
    transform,
    ...(fusions ? { fusions } : {}),
    ...(quantized ? { quantized } : {}),
    ...(minCosineToSource !== undefined ? { minCosineToSource } : {}),
  });
  const tjsInt8Dir = tjs ? await transformersJsInt8Folder(name, model.dir, prepared.int8.path) : undefined;
  graphs[name] = {
    fp32: graphSummary(prepared.fp32),
    fused: graphSummary(prepared.fused),
    int8: { ...graphSummary(prepared.int8), ...(tjsInt8Dir ? { transformersJsCopy: repoPath(join(tjsInt8Dir, 'onnx', 'model_int8.onnx')) } : {}) },
  };
  const dirFor = (s: Setting) => (s.runner === 'transformers.js' && s.dtype === 'int8' ? tjsInt8Dir! : model.dir);

  const record = (phase: 'sweep' | 'full', n: number, s: Setting, samples: ChildResult[]): Run => {
    const r = samples.reduce((best, y) => (y.sentencesPerSecond > best.sentencesPerSecond ? y : best));
    const lengths = lengthsOf(n);
    const realTokens = lengths.reduce((a, b) => a + b, 0);
    const estimated = r.executedTokens === undefined;
    const result: Run = {
      model: name,
      phase,
      texts: n,
      runner: s.runner,
      dtype: s.dtype ?? 'fp32',
      setting: label(s, threads),
      ...(r.graph ? { graph: r.graph.transform } : {}),
      threads: r.runtimeThreads ?? null,
      sentencesPerSecond: r.sentencesPerSecond,
      samplesSentencesPerSecond: samples.map((y) => y.sentencesPerSecond),
      seconds: r.seconds,
      realTokens,
      executedTokens: r.executedTokens ?? paddedTokens(lengths, s),
      executedTokensEstimated: estimated,
      p50CallMs: r.p50BatchMs,
      modelCalls: r.modelCalls,
      peakRssMiB: r.peakRssMiB,
      fractionOfGemmCeiling: model.flops(lengths) / r.seconds / gemm,
    };
    runs.push(result);
    return result;
  };
  const once = async (phase: 'sweep' | 'full', n: number, s: Setting) => {
    const r = record(phase, n, s, [await child(dirFor(s), s, n)]);
    console.error(`  ${name} ${phase} ${s.dtype ?? 'fp32'} ${r.setting}: ${sps(r.sentencesPerSecond)} sentences/s, ${r.peakRssMiB.toFixed(0)} MiB`);
    return r;
  };

  // 1. Sweep.
  const defaultUsage: Setting = { runner: baseline, order: 'all' };
  const sweepN = tjs ? sweepCount : referenceCount;
  const baselineSweep = (dtype: 'fp32' | 'int8'): Setting[] =>
    tjs
      ? [
          ...(smoke ? [4] : [1, 4, 8]).map((batch) => ({ runner: baseline, order: 'input' as const, batch, dtype })),
          ...(smoke ? [8] : [8, 16, 32]).map((batch) => ({ runner: baseline, order: 'sorted' as const, batch, dtype })),
        ]
      : [{ runner: baseline, order: 'input', batch: 32 }, { runner: baseline, order: 'sorted', batch: 32 }, defaultUsage];
  const bestOf = async (settings: Setting[]) => {
    const swept: { s: Setting; sps: number }[] = [];
    for (const s of settings) swept.push({ s, sps: (await once('sweep', sweepN, s)).sentencesPerSecond });
    return { best: swept.filter((y) => y.s.order !== 'all').reduce((a, b) => (b.sps > a.sps ? b : a)).s, swept };
  };
  const oursOnSweep = await once('sweep', sweepN, { runner: 'evomem' });
  await once('sweep', sweepN, { runner: 'evomem', dtype: 'int8' });
  const fp32Sweep = await bestOf(baselineSweep('fp32'));
  const int8Sweep = tjs ? await bestOf(baselineSweep('int8')) : undefined;

  // 2. Full workload, interleaved rounds.
  const vectors = (d: string) => join(workDir, `encoder-vectors-${name}-${d}.f32`);
  const full: Record<string, { s: Setting; rounds: number; vectorsFile?: string }> = {
    default: { s: { runner: 'evomem' }, rounds: repeat, vectorsFile: vectors('fp32') },
    fused: { s: { runner: 'evomem', optimize: true }, rounds: repeat },
    best: { s: fp32Sweep.best, rounds: tjs ? repeat : 1 },
    int8: { s: { runner: 'evomem', dtype: 'int8' }, rounds: repeat, vectorsFile: vectors('int8') },
    ...(int8Sweep ? { int8Best: { s: int8Sweep.best, rounds: repeat } } : {}),
    ...(tjs ? { oneCall: { s: defaultUsage, rounds: 1 } } : threads !== 1 ? { oneThread: { s: { runner: 'evomem', threads: 1 }, rounds: repeat } } : {}),
  };
  const samples: Record<string, ChildResult[]> = Object.fromEntries(Object.keys(full).map((k) => [k, []]));
  for (let round = 0; round < repeat; round++) {
    for (const [key, { s, rounds, vectorsFile }] of Object.entries(full)) {
      if (round >= rounds) continue;
      const r = await child(dirFor(s), s, fullCount, round === 0 ? vectorsFile : undefined);
      samples[key]!.push(r);
      console.error(`  ${name} full ${s.dtype ?? 'fp32'} ${label(s, threads)}: ${sps(r.sentencesPerSecond)} sentences/s, ${r.peakRssMiB.toFixed(0)} MiB`);
    }
  }
  gemm = Math.max(gemm, await measureGemmRate(model.gemm[0], model.gemm[1], threads));
  const f = Object.fromEntries(Object.entries(full).map(([k, { s }]) => [k, record('full', fullCount, s, samples[k]!)])) as Record<string, Run>;
  const ours = f.default!;
  const theirs = f.best!;

  ratios[name] = {
    baseline: tjs ? 'transformers.js 4.3.1 feature-extraction' : 'TF.js reference (@energetic-ai/embeddings 0.2.0, tfjs-backend-wasm)',
    bestSetting: theirs.setting,
    vsBest: fmt(ours.sentencesPerSecond / theirs.sentencesPerSecond),
    fusedVsBest: fmt(f.fused!.sentencesPerSecond / theirs.sentencesPerSecond),
    peakRssVsBest: fmt(ours.peakRssMiB / theirs.peakRssMiB),
  };
  const sweptDefault = fp32Sweep.swept.find((y) => y.s.order === 'all');
  if (f.oneCall) Object.assign(ratios[name], { vsDefault: fmt(ours.sentencesPerSecond / f.oneCall.sentencesPerSecond), peakRssVsDefault: fmt(ours.peakRssMiB / f.oneCall.peakRssMiB) });
  if (sweptDefault) Object.assign(ratios[name], { vsDefaultOnSweep: fmt(oursOnSweep.sentencesPerSecond / sweptDefault.sps) });
  if (f.oneThread) Object.assign(ratios[name], { oneThreadVsBest: fmt(f.oneThread.sentencesPerSecond / theirs.sentencesPerSecond) });

  const cos = await vectorCosines(vectors('fp32'), vectors('int8'), fullCount);
  int8[name] = { speedupOverFp32: fmt(f.int8!.sentencesPerSecond / ours.sentencesPerSecond), minCosineToFp32: cos.min, meanCosineToFp32: cos.mean };
  if (f.int8Best) {
    int8Ratios[name] = {
      vsTransformersJsInt8Best: fmt(f.int8!.sentencesPerSecond / f.int8Best.sentencesPerSecond),
      vsTransformersJsFp32Best: fmt(f.int8!.sentencesPerSecond / theirs.sentencesPerSecond),
      int8BestSetting: f.int8Best.setting,
      fp32BestSetting: theirs.setting,
    };
  }
  fused[name] = {
    gemmFraction: fmt(f.fused!.fractionOfGemmCeiling),
    unfusedGemmFraction: fmt(ours.fractionOfGemmCeiling),
    speedupOverUnfused: fmt(f.fused!.sentencesPerSecond / ours.sentencesPerSecond),
    ...(prepared.fused.fusions ? { fusions: prepared.fused.fusions } : {}),
  };

  readmeRows.push(readmeRow(name, f, sweptDefault ? { ours: oursOnSweep.sentencesPerSecond, oneCall: sweptDefault.sps, texts: sweepN } : undefined));
  runs.push({ model: name, runner: 'flop-bound estimate', gemmGflopsPerSecond: gemm / 1e9, sentencesPerSecond: fullCount / (model.flops(lengthsOf(fullCount)) / gemm) });

  // 3. Operator shares of kernel time, on the graph evomem runs.
  operatorShares[name] = await node<OperatorProfile>('operatorShares.ts', { modelDir: model.dir, threads, textsFile: textsFile(profileCount), scratchDir: join(workDir, `profile-${name}`) });
  const top = Object.entries(operatorShares[name].shares).slice(0, 4);
  console.error(`  ${name} kernel time (${operatorShares[name].graph.transform} graph): ${top.map(([op, y]) => `${op} ${(y * 100).toFixed(1)}%`).join(', ')}`);

  // Quality of int8 on the default model's retrieval pipeline.
  if (name === 'use-lite' && !args['skip-recall']) {
    const recallAt10 = await int8RecallAt10(threads, smoke ? 1 : Infinity);
    int8[name].recallAt10 = recallAt10;
    console.error(`  ${name} recall@10 fp32 / int8: ${Object.entries(recallAt10).map(([d, r]) => `${d} ${r.fp32} / ${r.int8}`).join(', ')}`);
  }
  partSeconds[name] = Number(((performance.now() - partStarted) / 1000).toFixed(1));
}

const wallSeconds = (performance.now() - started) / 1000;
const md = encoderMarkdown({ origin, wallSeconds, threads, repeat, fullCount, sweepCount, referenceCount, profileCount, runs, ratios, int8, int8Ratios, fused, operatorShares, readmeRows });
const notes = encoderNotes(profileCount);
const result = {
  benchmark: 'encoder',
  ...origin,
  wallSeconds,
  partSeconds,
  machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), node: process.version },
  threads,
  sessionOptions: sessionOptions(threads),
  sessionOptionsNote: notes.sessionOptionsNote,
  repeat,
  workload: {
    texts: fullCount,
    sweepTexts: sweepCount,
    referenceSweepTexts: referenceCount,
    profileTexts: profileCount,
    source: 'shared/data/locomo/locomo-dev.json turns "speaker: text", file order, cycled',
    why: `The sweep runs each setting once on a subset (the TF.js reference on a smaller one), and the full workload runs only evomem, the best sweep settings and (once) transformers.js's default usage and TF.js's best setting, so the whole benchmark fits in 10 minutes on a 2-core machine.`,
  },
  graphs,
  graphsNote: notes.graphsNote,
  ratios,
  ratiosNote: notes.ratiosNote,
  int8,
  int8Note: notes.int8Note,
  int8Ratios,
  int8RatiosNote: notes.int8RatiosNote,
  fused,
  fusedNote: notes.fusedNote,
  executedTokensNote: notes.executedTokensNote,
  operatorShares,
  operatorSharesNote: notes.operatorSharesNote,
  runs,
};
await mkdir(join(out, '..'), { recursive: true });
await writeFile(`${out}.json`, `${JSON.stringify(result, null, 2)}\n`);
await writeFile(`${out}.md`, md);
console.log(md.split('\n').slice(4).join('\n'));
console.error(`wrote ${out}.json and .md in ${wallSeconds.toFixed(0)} s (${Object.entries(partSeconds).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')})`);
