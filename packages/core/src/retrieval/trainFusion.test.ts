import { describe, expect, it } from 'vitest';
import { hashUnit, seededRandom } from '../util/random.js';
import type { FusionWeights, SignalColumns } from './pipeline.js';
import { trainFusion, type FusionExample } from './trainFusion.js';

/** The listwise loss written out: mean over questions of mean over evidence of -log softmax(scores)[gold]. */
function loss(examples: readonly FusionExample[], weights: FusionWeights): number {
  let total = 0;
  for (const e of examples) {
    const size = Object.values(e.columns)[0]!.length;
    const s = Array.from({ length: size }, (_, i) => Object.entries(e.columns).reduce((sum, [name, c]) => sum + (weights[name as keyof FusionWeights] ?? 0) * c[i]!, 0));
    const logZ = Math.log(s.reduce((z, v) => z + Math.exp(v), 0));
    total += e.gold.reduce((sum, g) => sum + logZ - s[g]!, 0) / e.gold.length;
  }
  return total / examples.length;
}

/**
 * `n` questions over 8 units each: `marker` is 1 at the gold unit (a perfect signal),
 * `decoy` is 1 at another unit (a misleading one), `bm25` is noise.
 */
function synthetic(n: number, seed = 7, prefix = 'q'): FusionExample[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, k) => {
    const gold = Math.floor(random() * 8);
    const decoy = (gold + 1 + Math.floor(random() * 7)) % 8;
    const columns: SignalColumns = {
      bm25: Float64Array.from({ length: 8 }, () => random() * 2 - 1),
      speaker: Float64Array.from({ length: 8 }, (_, i) => (i === gold ? 1 : 0)),
      'date-match': Float64Array.from({ length: 8 }, (_, i) => (i === decoy ? 1 : 0)),
    };
    return { id: `${prefix}${k}`, columns, gold: [gold] };
  });
}

describe('trainFusion', () => {
  it('reports the listwise loss of the initial weights, computed by hand', () => {
    // Scores [1, 0, -1]: -log softmax at unit 0 is log(e + 1 + 1/e) - 1 = log(1 + e^-1 + e^-2).
    const one: FusionExample = { id: 'a', columns: { bm25: Float64Array.from([1, 0, -1]) }, gold: [0] };
    const { report } = trainFusion([one], { init: { bm25: 1 }, validationFraction: 0, maxSteps: 1 });
    expect(report.validationLoss.initial).toBeCloseTo(Math.log(1 + Math.exp(-1) + Math.exp(-2)), 12);
    // Two evidence units count half each: log Z - (1 + 0) / 2.
    const two: FusionExample = { ...one, gold: [0, 1] };
    const both = trainFusion([two], { init: { bm25: 1 }, validationFraction: 0, maxSteps: 1 }).report;
    expect(both.validationLoss.initial).toBeCloseTo(Math.log(Math.E + 1 + Math.exp(-1)) - 0.5, 12);
    expect(loss([two], { bm25: 1 })).toBeCloseTo(both.validationLoss.initial, 12);
  });

  it('steps against the gradient: each weight moves the way finite differences of the loss say', () => {
    const examples = synthetic(30);
    const init = { bm25: 0.5, speaker: 0.3, 'date-match': 0.2 };
    const lr = 0.01;
    const { weights, report } = trainFusion(examples, { init, validationFraction: 0, maxSteps: 10, learningRate: lr, weightDecay: 0 });
    expect(report.bestStep).toBe(10);
    const h = 1e-5;
    for (const name of Object.keys(init) as (keyof typeof init)[]) {
      const fd = (loss(examples, { ...init, [name]: init[name] + h }) - loss(examples, { ...init, [name]: init[name] - h })) / (2 * h);
      const moved = weights[name]! - init[name];
      // Adam's first steps move each weight by about the learning rate against the gradient's sign.
      expect(Math.sign(moved)).toBe(-Math.sign(fd));
      expect(Math.abs(moved)).toBeGreaterThan(5 * lr);
      expect(Math.abs(moved)).toBeLessThanOrEqual(10 * lr + 1e-6);
    }
    // The marker lowers the loss, the decoy raises it.
    expect(weights.speaker).toBeGreaterThan(init.speaker);
    expect(weights['date-match']).toBeLessThan(init['date-match']);
    expect(report.validationLoss.best).toBeLessThan(report.validationLoss.initial);
  });

  it('learns to weigh the informative column, and lowers the held-out loss', () => {
    const examples = synthetic(60);
    const { weights, report } = trainFusion(examples);
    const held = examples.filter((e) => hashUnit(`1\u0000${e.id}`) < 0.1);
    expect(held.length).toBeGreaterThan(0);
    expect(report).toMatchObject({ questions: examples.length - held.length, validationQuestions: held.length });
    // Default init is the plain hybrid { bm25: 1, dense: 1 }: the marker starts at 0.
    expect(weights.speaker).toBeGreaterThan(1);
    expect(weights.speaker).toBeGreaterThan(Math.abs(weights.bm25!));
    expect(weights['date-match']).toBeLessThan(0);
    // No example has a dense column: its weight stays where it started, for indexes that have one.
    expect(weights.dense).toBe(1);
    expect(report.bestStep).toBeGreaterThan(0);
    expect(report.validationLoss.initial).toBeCloseTo(loss(held, { bm25: 1 }), 9);
    // The reported best loss is the held-out loss of the weights returned (stored to 6 digits).
    expect(report.validationLoss.best).toBeCloseTo(loss(held, weights), 4);
    expect(report.validationLoss.best).toBeLessThan(report.validationLoss.initial - 0.5);
  });

  it('is deterministic', () => {
    const examples = synthetic(40, 3);
    const a = trainFusion(examples, { seed: 5 });
    const b = trainFusion(examples, { seed: 5 });
    expect(b.weights).toEqual(a.weights);
    expect({ ...b.report, trainSeconds: 0 }).toEqual({ ...a.report, trainSeconds: 0 });
  });

  it('runs maxSteps steps on every question when nothing is held out', () => {
    const examples = synthetic(12);
    const { report } = trainFusion(examples, { validationFraction: 0, maxSteps: 37 });
    expect(report).toMatchObject({ steps: 37, questions: 12, validationQuestions: 0, bestStep: 30 });
  });

  it('keeps the initial weights (step 0) when training hurts the held-out questions', () => {
    // On the training questions bm25 marks the evidence; on the held-out ones it marks a wrong unit.
    const ids = Array.from({ length: 40 }, (_, k) => `q${k}`);
    const isHeld = (id: string) => hashUnit(`1\u0000${id}`) < 0.1;
    expect(ids.filter(isHeld).length).toBeGreaterThan(0);
    const examples: FusionExample[] = ids.map((id, k) => {
      const gold = k % 5;
      const marked = isHeld(id) ? (gold + 1) % 5 : gold;
      const noise = seededRandom(k + 1);
      return {
        id,
        columns: { bm25: Float64Array.from({ length: 5 }, (_, i) => (i === marked ? 1 : 0)), dense: Float64Array.from({ length: 5 }, () => noise() - 0.5) },
        gold: [gold],
      };
    });
    const init = { bm25: 1, dense: 1 };
    const { weights, report } = trainFusion(examples, { init });
    expect(report.bestStep).toBe(0);
    expect(weights).toEqual(init);
    expect(report.validationLoss.best).toBe(report.validationLoss.initial);
    // It stopped early: 5 checks without improvement.
    expect(report.steps).toBe(50);
  });

  it('refuses questions without evidence or columns', () => {
    const noEvidence: FusionExample[] = synthetic(3).map((e) => ({ ...e, gold: [] }));
    expect(() => trainFusion(noEvidence)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/none of 3 questions has evidence/) }));
    expect(() => trainFusion([])).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    expect(() => trainFusion([{ id: 'a', columns: {}, gold: [0] }])).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('throws the reason of an aborted signal', () => {
    const controller = new AbortController();
    const reason = new Error('stop training');
    controller.abort(reason);
    expect(() => trainFusion(synthetic(5), { signal: controller.signal })).toThrow(reason);
  });

  it('checks its options, naming the nearest key for a typo', () => {
    const examples = synthetic(5);
    expect(() => trainFusion(examples, { maxStep: 10 } as never)).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/unknown option 'maxStep'.*Did you mean 'maxSteps'/) }));
    expect(() => trainFusion(examples, { validationFraction: 1 })).toThrow(/'validationFraction' must be a number >= 0 and < 1/);
    expect(() => trainFusion(examples, { maxSteps: 0 })).toThrow(/'maxSteps' must be a positive integer/);
  });
});
