// The markdown of pnpm bench:encoder (bench/results/encoder.md): its tables, what each ratio
// compares, and the block the root README copies.
import { availableParallelism, cpus } from 'node:os';
import type { OperatorProfile } from './operatorShares.js';
import type { ChildConfig } from './sessionOptions.js';
import { table } from './shared.js';

/** One runner and setting: how a child is called. */
export type Setting = Pick<ChildConfig, 'runner' | 'order' | 'batch' | 'dtype' | 'optimize'> & { threads?: number };

/** One measured row of encoder.json's `runs`. */
export interface Run {
  model: string;
  phase: 'sweep' | 'full';
  texts: number;
  runner: string;
  dtype: 'fp32' | 'int8';
  setting: string;
  sentencesPerSecond: number;
  realTokens: number;
  executedTokens: number;
  executedTokensEstimated: boolean;
  p50CallMs: number;
  peakRssMiB: number;
  fractionOfGemmCeiling: number;
  [more: string]: unknown;
}

/** The setting's name in the tables (the dtype has a table of its own). */
export function label(s: Setting, threads: number): string {
  if (s.runner === 'evomem') {
    const t = s.threads && s.threads !== threads ? `, ${s.threads} thread${s.threads > 1 ? 's' : ''}` : '';
    return `evomem${s.optimize === true ? ', fused' : ''}${t}`;
  }
  return s.order === 'all' ? 'one call, every text' : `${s.order === 'sorted' ? 'sorted' : 'input order'}, batch ${s.batch}`;
}

export interface ReportInput {
  origin: { command: string; commit: string; dirty: boolean; date: string };
  wallSeconds: number;
  threads: number;
  repeat: number;
  fullCount: number;
  sweepCount: number;
  referenceCount: number;
  profileCount: number;
  runs: Record<string, unknown>[];
  ratios: Record<string, unknown>;
  int8: Record<string, unknown>;
  int8Ratios: Record<string, unknown>;
  fused: Record<string, unknown>;
  operatorShares: Record<string, OperatorProfile>;
  readmeRows: string[][];
}

/** What each part of encoder.json means, beside it in the file. */
export const encoderNotes = (profileCount: number) => ({
  sessionOptionsNote:
    'evomem and transformers.js open their onnxruntime-node 1.30.0 sessions with these options. The TF.js reference runs on tfjs-backend-wasm with SIMD, which under Node uses its single-threaded build (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE): its threads cannot be set, and it runs on 1. The use-lite rows therefore add evomem on 1 thread.',
  graphsNote: "The graph each evomem variant runs (encoder.graph): 'fp32' is the exported model.onnx, evomem's default, which transformers.js runs too; 'fused' (optimize: true) is evomem's rewrite of it into onnxruntime's fused Attention op; 'int8' is its dynamic quantization of the exported fp32 graph, which transformers.js also runs in the int8 rows, hard-linked (else copied) as onnx/model_int8.onnx in a folder with the model's tokenizer and config (transformersJsCopy).",
  ratiosNote:
    "vsBest: evomem (fp32, its default: the exported graph) / the baseline at its fastest fp32 sweep setting, both on the full workload; fusedVsBest: the same with evomem's optimize: true. vsDefault: evomem / transformers.js called once with every text (its default usage). For use-lite, vsDefaultOnSweep compares on the reference sweep subset, and oneThreadVsBest is evomem on 1 thread, as the TF.js reference runs. peakRss*: evomem peak RSS / the baseline's.",
  int8Note:
    "speedupOverFp32: evomem int8 / evomem fp32 (its default) sentences per second, full workload, same run. min/meanCosineToFp32: between evomem's int8 and fp32 vectors of the full workload's texts, text by text. recallAt10 (the default model): the default retrieval pipeline (createRetriever('pipeline'), as evomem eval runs it) on both dev files, turn units, questions of categories 1-4, with the encoder at fp32 and int8.",
  int8RatiosNote: 'evomem int8 / transformers.js running the same int8 file at its fastest int8 sweep setting (vsTransformersJsInt8Best), and / transformers.js at its fastest fp32 setting (vsTransformersJsFp32Best), full workload, same run.',
  fusedNote: "gemmFraction: useful FLOP rate of evomem's fused fp32 full run (optimize: true) over the GEMM rate onnxruntime reaches on this machine (gemm.ts); unfusedGemmFraction: the same for the exported graph (the default); speedupOverUnfused: fused / unfused sentences per second.",
  executedTokensNote: 'executedTokensEstimated: true means the count is estimated (each batch padded to its longest text, from the model tokenizer); evomem counts what it runs.',
  operatorSharesNote: `Share of summed kernel time per operator type, from onnxruntime's profiler (enableProfiling) over evomem's batch shapes for ${profileCount} texts, on the graph evomem runs by default (graph), with the session options above; optimizedGraphOps counts the node types of the graph onnxruntime optimized (optimizedModelFilePath).`,
});

const HEADERS = ['model', 'phase, texts', 'runner', 'setting', 'sentences/s', 'executed tokens', 'exec/real', 'p50 call ms', 'peak RSS MiB', 'of GEMM ceiling'];
const README_HEADERS = [
  'model',
  'baseline, best setting',
  'evomem (sentences/s)',
  'baseline, best (sentences/s)',
  'evomem / best',
  'baseline, one call (sentences/s)',
  'evomem / one call',
  'peak RSS (MiB)',
  'executed / real tokens',
  'evomem int8 (sentences/s)',
  'int8 / transformers.js int8 best',
  'int8 / transformers.js fp32 best',
];

const x = (v: number) => `${v.toFixed(2)}x`;
const sps = (v: number) => v.toFixed(1);

/**
 * One row of the root README's table from a model's full-workload runs (keyed as encoder.ts
 * keys them: default, fused, best, int8, int8Best, oneCall, oneThread); `onSweep` holds the one-call
 * comparison on the sweep subset when the baseline's one call ran there only (TF.js).
 */
export function readmeRow(name: string, f: Record<string, Run>, onSweep?: { ours: number; oneCall: number; texts: number }): string[] {
  const ours = f.default!;
  const theirs = f.best!;
  const tjs = theirs.runner === 'transformers.js';
  const int8 = f.int8!;
  const { oneCall, oneThread, int8Best } = f;
  return [
    name === 'use-lite' ? 'use-lite (the default)' : name,
    `${tjs ? 'transformers.js' : 'TF.js reference'}, ${theirs.setting}${tjs ? '' : ' (1 sample)'}`,
    sps(ours.sentencesPerSecond),
    sps(theirs.sentencesPerSecond),
    `**${x(ours.sentencesPerSecond / theirs.sentencesPerSecond)}**${oneThread ? `; ${x(oneThread.sentencesPerSecond / theirs.sentencesPerSecond)} on 1 thread` : ''}`,
    oneCall ? sps(oneCall.sentencesPerSecond) : onSweep ? `${sps(onSweep.oneCall)} (first ${onSweep.texts} texts)` : '–',
    oneCall ? x(ours.sentencesPerSecond / oneCall.sentencesPerSecond) : onSweep ? `${x(onSweep.ours / onSweep.oneCall)} (first ${onSweep.texts} texts)` : '–',
    `${ours.peakRssMiB.toFixed(0)} / ${theirs.peakRssMiB.toFixed(0)}${oneCall ? ` / ${oneCall.peakRssMiB.toFixed(0)}` : ''}`,
    `${(ours.executedTokens / ours.realTokens).toFixed(2)} / ${(theirs.executedTokens / theirs.realTokens).toFixed(2)} (est.)`,
    sps(int8.sentencesPerSecond),
    int8Best ? `**${x(int8.sentencesPerSecond / int8Best.sentencesPerSecond)}**` : '–',
    int8Best ? x(int8.sentencesPerSecond / theirs.sentencesPerSecond) : '–',
  ];
}

function rowOf(r: Run): string[] {
  return [
    r.model,
    `${r.phase} ${r.texts}`,
    r.runner,
    r.setting,
    r.sentencesPerSecond.toFixed(1),
    `${r.executedTokens}${r.executedTokensEstimated ? ' (est.)' : ''}`,
    (r.executedTokens / r.realTokens).toFixed(2),
    r.p50CallMs.toFixed(1),
    r.peakRssMiB.toFixed(0),
    r.fractionOfGemmCeiling.toFixed(2),
  ];
}

const jsonLines = (o: Record<string, unknown>) => Object.entries(o).map(([m, v]) => `- ${m}: ${JSON.stringify(v)}`);

export function encoderMarkdown(p: ReportInput): string {
  const measured = p.runs.filter((r): r is Run => typeof r.phase === 'string');
  const rowsOf = (dtype: 'fp32' | 'int8') => measured.filter((r) => r.dtype === dtype).map(rowOf);
  const shareLines = Object.entries(p.operatorShares).map(
    ([m, prof]) =>
      `- ${m} (${prof.graph.transform} graph, \`${prof.graph.path}\`): ${Object.entries(prof.shares)
        .filter(([, v]) => v >= 0.005)
        .map(([op, v]) => `${op} ${(v * 100).toFixed(1)}%`)
        .join(', ')}; optimized graph: ${Object.entries(prof.optimizedGraphOps)
        .map(([op, n]) => `${n} ${op}`)
        .join(', ')}`,
  );
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  return [
    '# Encoder throughput and memory',
    '',
    `Command: \`${p.origin.command}\` at ${p.origin.commit}${p.origin.dirty ? ' (uncommitted changes)' : ''}, ${p.origin.date}. ${cpu}, ${availableParallelism()} cores, ${p.threads} threads. Whole run: ${p.wallSeconds.toFixed(0)} s.`,
    '',
    `Sweep: each setting once on the first ${p.sweepCount} texts. Full: ${p.fullCount} LoCoMo turns; evomem and the best baseline settings ${p.repeat} time(s) interleaved, best sample kept; transformers.js's default usage (one call) once. **The TF.js reference rows (use-lite) take fewer samples**: they run about 10x slower, so they sweep on the first ${p.referenceCount} texts only, and their best setting runs the full workload once. Executed tokens marked (est.) are estimated as each batch padded to its longest text; evomem's are counted.`,
    '',
    "## fp32",
    '',
    "`evomem` runs the exported model.onnx, as transformers.js does (its default); `evomem, fused` is `optimize: true`, evomem's rewrite of it into onnxruntime's fused Attention op.",
    '',
    table(HEADERS, rowsOf('fp32')),
    '',
    '## int8',
    '',
    "evomem's dynamic int8 quantization of the exported graph (`dtype: 'int8'`). transformers.js runs that same file, placed as `onnx/model_int8.onnx` and loaded with `dtype: 'int8'`. use-lite's TF.js reference has no int8, so its rows are evomem's only. \"of GEMM ceiling\" is still the fp32 GEMM rate, so int8 rows can pass 1.",
    '',
    table(HEADERS, rowsOf('int8')),
    '',
    'What each ratio compares (sentences per second on the full workload, same run, unless named):',
    '',
    "- `ratios.vsBest`: evomem fp32 (its default, the exported graph) / the baseline at its fastest fp32 sweep setting; `fusedVsBest`: evomem with `optimize: true` / the same; `vsDefault`: evomem / transformers.js called once with every text; use-lite's `vsDefaultOnSweep`: the same on the reference sweep subset, `oneThreadVsBest`: evomem on 1 thread / TF.js. `peakRss*`: evomem peak RSS / the baseline's.",
    "- `int8Ratios.vsTransformersJsInt8Best`: evomem int8 / transformers.js running the same int8 file at its fastest int8 sweep setting; `vsTransformersJsFp32Best`: evomem int8 / transformers.js at its fastest fp32 setting.",
    "- `int8.speedupOverFp32`: evomem int8 / evomem fp32 (its default); `min/meanCosineToFp32`: between the int8 and fp32 vectors of the same texts; `recallAt10`: the default retrieval pipeline on both dev files at fp32 and int8.",
    "- `fused.gemmFraction`: useful FLOP rate of evomem's fused fp32 run (`optimize: true`) / the GEMM rate onnxruntime reaches on this machine; `unfusedGemmFraction`: the same for the exported graph; `speedupOverUnfused`: fused / exported.",
    '',
    'ratios:',
    '',
    ...jsonLines(p.ratios),
    '',
    'int8Ratios:',
    '',
    ...jsonLines(p.int8Ratios),
    '',
    'int8:',
    '',
    ...jsonLines(p.int8),
    '',
    'fused:',
    '',
    ...jsonLines(p.fused),
    '',
    "The root README's table (evomem fp32 is its default, the exported graph; evomem / baseline: sentences per second; peak RSS: evomem / best setting / one call; executed / real tokens: evomem / best setting; int8 columns: evomem int8 and its ratios to transformers.js's best int8 and fp32 settings):",
    '',
    table(README_HEADERS, p.readmeRows),
    '',
    `Share of onnxruntime kernel time by operator (profiler, evomem's batch shapes for ${p.profileCount} texts, on the graph evomem runs by default):`,
    '',
    ...shareLines,
    '',
  ].join('\n');
}
