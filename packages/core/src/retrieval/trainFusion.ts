import { Adam } from '../adapter/Adam.js';
import { EvomemError } from '../errors.js';
import { checkOptions, is } from '../util/options.js';
import { isHeldOut } from '../util/random.js';
import { checkFusionWeights, SIGNALS, type FusionWeights, type SignalColumns, type SignalName } from './pipeline.js';

/** One training question: its signal columns over its corpus, and the units that answer it. */
export interface FusionExample {
  /** Question id, for the seeded validation split. */
  id: string;
  columns: SignalColumns;
  /** Positions of the evidence units; a question without any is skipped. */
  gold: readonly number[];
}

export interface TrainFusionOptions {
  /** Where training starts, and what weight decay pulls towards. @default { bm25: 1, dense: 1 }, the plain hybrid */
  init?: FusionWeights;
  /** Full-batch Adam steps at most. @default 400 */
  maxSteps?: number;
  /** @default 0.05 */
  learningRate?: number;
  /** Decoupled weight decay towards `init`. @default 0.001 */
  weightDecay?: number;
  /** Share of questions held out (by a seeded hash of their id) to keep the best step. @default 0.1 */
  validationFraction?: number;
  /** Validation checks (every 10 steps) without improvement before stopping. @default 5 */
  patience?: number;
  /** @default 1 */
  seed?: number;
  signal?: AbortSignal;
}

const SPEC = {
  init: is.object,
  maxSteps: is.int(1),
  learningRate: is.number(0),
  weightDecay: is.number(0),
  validationFraction: { expect: 'a number >= 0 and < 1', test: (v: unknown) => typeof v === 'number' && v >= 0 && v < 1 },
  patience: is.int(1),
  seed: is.int(0),
  signal: is.instance(AbortSignal),
};

export interface FusionTrainingReport {
  questions: number;
  validationQuestions: number;
  steps: number;
  bestStep: number;
  /** Mean listwise loss (-log of the softmax mass on each evidence unit) at the start and at the best step. */
  validationLoss: { initial: number; best: number };
  trainSeconds: number;
}

/**
 * Learns the fusion weights of the pipeline's signals: a listwise softmax over each
 * question's corpus, the evidence units as positives (the loss of `trainAdapter`'s
 * InfoNCE with every unit a negative; the columns are z-scores, so the weights carry the
 * temperature). Full-batch Adam with decay towards `init`, early stopping on held-out
 * questions; step 0 is `init`, so weights that do not help on held-out questions stay at it.
 * Deterministic.
 *
 * @example
 * const { weights } = trainFusion(examples); // examples from fusionExamples()
 */
export function trainFusion(examples: readonly FusionExample[], options: TrainFusionOptions = {}): { weights: FusionWeights; report: FusionTrainingReport } {
  checkOptions('trainFusion', options, SPEC);
  const started = performance.now();
  const init = options.init ? checkFusionWeights('trainFusion init', options.init) : { bm25: 1, dense: 1 };
  const usable = examples.filter((e) => e.gold.length > 0);
  const names = SIGNALS.filter((s) => usable.some((e) => e.columns[s]));
  if (usable.length === 0 || names.length === 0) {
    throw new EvomemError('INVALID_OPTION', `trainFusion: none of ${examples.length} questions has evidence and signal columns; give questions with evidence (fusionExamples builds them from a dataset).`);
  }
  const fraction = options.validationFraction ?? 0.1;
  const seed = options.seed ?? 1;
  const isHeld = (e: FusionExample) => isHeldOut(e.id, seed, fraction);
  const held = usable.filter(isHeld).map((e) => pack(e, names));
  const validating = held.length > 0 && held.length < usable.length;
  const train = (validating ? usable.filter((e) => !isHeld(e)) : usable).map((e) => pack(e, names));
  const params = Float32Array.from(names, (n) => init[n] ?? 0);
  const target = params.slice();
  const adam = new Adam(params, { learningRate: options.learningRate ?? 0.05, weightDecay: options.weightDecay ?? 0.001, decayTarget: target });
  const maxSteps = options.maxSteps ?? 400;
  const patience = options.patience ?? 5;
  const validationSet = validating ? held : train;
  const initialLoss = listwiseLoss(validationSet, params);
  let best = { loss: initialLoss, step: 0, weights: params.slice() };
  let stale = 0;
  let step = 0;
  while (step < maxSteps && stale < patience) {
    if (options.signal?.aborted) throw options.signal.reason;
    const grad = new Float64Array(names.length);
    listwiseLoss(train, params, grad);
    adam.step(grad);
    step++;
    if (step % 10 === 0) {
      const loss = listwiseLoss(validationSet, params);
      if (loss < best.loss - 1e-6) {
        best = { loss, step, weights: params.slice() };
        stale = 0;
      } else stale++;
    }
  }
  // Signals no example has a column for keep their starting weight.
  const weights: FusionWeights = { ...init };
  names.forEach((n, j) => (weights[n] = round(best.weights[j]!)));
  return {
    weights,
    report: {
      questions: train.length,
      validationQuestions: validating ? held.length : 0,
      steps: step,
      bestStep: best.step,
      validationLoss: { initial: initialLoss, best: best.loss },
      trainSeconds: (performance.now() - started) / 1000,
    },
  };
}

/** Weights as stored: 6 significant digits, enough for the ranking and readable in a file. */
const round = (x: number) => Number(x.toPrecision(6));

/** An example's columns packed row-major (unit by signal) for the training loops; absent columns are 0. */
interface Packed {
  size: number;
  features: Float64Array;
  gold: readonly number[];
}

function pack(e: FusionExample, names: readonly SignalName[]): Packed {
  const m = names.length;
  const size = names.map((n) => e.columns[n]?.length).find((l) => l !== undefined) ?? 0;
  const features = new Float64Array(size * m);
  names.forEach((n, j) => {
    const c = e.columns[n];
    if (c) for (let i = 0; i < size; i++) features[i * m + j] = c[i]!;
  });
  return { size, features, gold: e.gold };
}

/** Mean listwise loss over `examples`; with `grad`, adds the mean gradient over the weights into it. */
function listwiseLoss(examples: readonly Packed[], w: Float32Array, grad?: Float64Array): number {
  const m = w.length;
  let total = 0;
  const expected = new Float64Array(m);
  for (const { size, features: f, gold } of examples) {
    const s = new Float64Array(size);
    let max = -Infinity;
    for (let i = 0; i < size; i++) {
      let v = 0;
      for (let j = 0; j < m; j++) v += w[j]! * f[i * m + j]!;
      s[i] = v;
      if (v > max) max = v;
    }
    let z = 0;
    for (let i = 0; i < size; i++) z += Math.exp(s[i]! - max);
    const logZ = max + Math.log(z);
    for (const g of gold) total += (logZ - s[g]!) / gold.length;
    if (!grad) continue;
    expected.fill(0);
    for (let i = 0; i < size; i++) {
      const p = Math.exp(s[i]! - logZ);
      for (let j = 0; j < m; j++) expected[j]! += p * f[i * m + j]!;
    }
    for (let j = 0; j < m; j++) {
      let positive = 0;
      for (const g of gold) positive += f[g * m + j]! / gold.length;
      grad[j]! += (expected[j]! - positive) / examples.length;
    }
  }
  return total / examples.length;
}
