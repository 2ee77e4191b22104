import { beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { tinyEncoderForSuite } from '../encoder/fixtures.js';
import { normalizeInPlace } from '../encoder/pooling.js';
import { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { mixReadOut } from '../memory/readOut.js';
import type { NegativeGroup, SamplerMessage } from '../sampler/HierarchicalNegativeSampler.js';
import { seededRandom } from '../util/random.js';
import type { QueryProjection } from './QueryAdapter.js';
import { DocumentTable, infoNceBackward, trainAdapter } from './trainAdapter.js';

const unit = (n: number, random: () => number) => {
  const v = Float32Array.from({ length: n }, () => random() - 0.5);
  normalizeInPlace(v);
  return v;
};

describe('infoNceBackward', () => {
  const D = 6;
  const random = seededRandom(7);
  const messages: SamplerMessage[] = Array.from({ length: 5 }, (_, i) => ({ id: `m${i}`, text: `m${i}`, conversation: 'c' }));
  const bases = messages.map(() => unit(D, random));
  const q = unit(D, random);
  const candidates = [0, 1, 2, 3, 4];
  const T = 0.5;

  const lossOf = (p: QueryProjection, docs: DocumentTable) => infoNceBackward(q, candidates, p, p.kind === 'linear' ? [new Float64Array(D * D)] : [new Float64Array(D * 2), new Float64Array(D * 2)], docs, new Map(), T, D, 1);

  it.each(['low-rank', 'linear'] as const)('gives the finite-difference gradient of the %s projection', (kind) => {
    const docs = DocumentTable.fromVectors(messages, bases);
    const p: QueryProjection =
      kind === 'linear'
        ? { kind, matrix: Float32Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0) + (random() - 0.5) * 0.4) }
        : { kind, rank: 2, u: Float32Array.from({ length: D * 2 }, () => random() - 0.5), v: Float32Array.from({ length: D * 2 }, () => random() - 0.5) };
    const params = p.kind === 'linear' ? [p.matrix] : [p.u, p.v];
    const grads = params.map((x) => new Float64Array(x.length));
    infoNceBackward(q, candidates, p, grads, docs, new Map(), T, D, 1);
    const eps = 1e-3;
    params.forEach((x, k) => {
      for (let i = 0; i < x.length; i++) {
        const keep = x[i]!;
        x[i] = keep + eps;
        const up = lossOf(p, docs);
        x[i] = keep - eps;
        const down = lossOf(p, docs);
        x[i] = keep;
        expect(grads[k]![i]!).toBeCloseTo((up - down) / (2 * eps), 3);
      }
    });
  });

  it('gives the finite-difference gradient of the evolving gate', () => {
    const weights = { format: 'evomem-evolving-weights' as const, version: 1 as const, dimensions: D, temperature: 0.1, gate: { scale: 4, bias: -1, max: 0.6 }, projection: null };
    const traces = bases.map((_, i) => (i === 0 ? null : { readout: unit(D, random), best: 0.2 + 0.1 * i }));
    const p: QueryProjection = { kind: 'low-rank', rank: 2, u: new Float32Array(D * 2), v: new Float32Array(D * 2) };
    const docs = DocumentTable.fromVectors(messages, bases, traces, weights);
    const docGrads = new Map<number, Float64Array>();
    infoNceBackward(q, candidates, p, [new Float64Array(D * 2), new Float64Array(D * 2)], docs, docGrads, T, D, 1);
    const grad = docs.gateGradient(docGrads);
    const gate = { ...weights.gate };
    const eps = 1e-3;
    (['scale', 'bias', 'max'] as const).forEach((name, k) => {
      const at = (value: number) => {
        docs.setGate({ ...gate, [name]: value });
        return lossOf(p, docs);
      };
      const numeric = (at(gate[name] + eps) - at(gate[name] - eps)) / (2 * eps);
      docs.setGate(gate);
      // Document vectors are float32: agreement to 0.5% is what that precision allows.
      expect(Math.abs(grad[k]! - numeric)).toBeLessThan(5e-3 * Math.abs(numeric) + 1e-6);
    });
  });
});

describe('trainAdapter', () => {
  const tiny = tinyEncoderForSuite();
  // Queries share a question frame the documents lack; what generalizes is removing it.
  const topics = ['apples', 'boats', 'cameras', 'dancing', 'engines', 'forests', 'guitars', 'harbors', 'islands', 'jackets', 'kites', 'lemons', 'mountains', 'novels', 'oceans', 'pianos', 'quilts', 'rivers', 'salads', 'tigers', 'umbrellas', 'violins', 'wagons', 'yachts'];
  const messages: SamplerMessage[] = topics.flatMap((t, i) => [
    { id: `${t}/1`, text: `${t} are what I like most`, conversation: i % 2 ? 'a' : 'b', speaker: 'Ann', session: '1' },
    { id: `${t}/2`, text: `yesterday we saw ${t} by the road`, conversation: i % 2 ? 'a' : 'b', speaker: 'Bo', session: '1' },
  ]);
  const groups: NegativeGroup[] = topics.map((t, i) => {
    const negatives = topics.filter((o) => o !== t).slice(0, 6).map((o) => `${o}/${1 + (i % 2)}`);
    return { queryId: `q${i}`, query: `please tell me what was said about ${t} before`, positiveId: `${t}/1`, positive: '', negativeIds: negatives, negatives, tiers: negatives.map(() => 'medium' as const) };
  });

  let encoder: Encoder;
  beforeAll(() => {
    encoder = tiny();
  });

  it('lowers the held-out loss, keeps the best epoch, and reports the run', async () => {
    const progress: number[] = [];
    const { adapter, report } = await trainAdapter(encoder, { messages, groups }, { validationFraction: 0.25, maxEpochs: 40, batchSize: 4, learningRate: 0.01, patience: 5, onProgress: (p) => progress.push(p.trainLoss) });
    expect(report.queries.validation).toBeGreaterThan(0);
    expect(report.groups.train + report.groups.validation).toBe(groups.length);
    expect(report.validationLoss).toHaveLength(report.epochs + 1);
    expect(report.bestEpoch).toBeGreaterThan(0);
    expect(report.validationLoss[report.bestEpoch]!).toBeLessThan(report.validationLoss[0]! * 0.9);
    expect(Math.min(...report.validationLoss)).toBe(report.validationLoss[report.bestEpoch]);
    expect(report.trainLoss.at(-1)!).toBeLessThan(report.trainLoss[0]!);
    expect(progress.length).toBeGreaterThan(report.epochs);
    expect(adapter.model).toEqual(await encoder.describeModel());
    expect(adapter.training).toMatchObject({ bestEpoch: report.bestEpoch, projection: 'low-rank', rank: 16 });
  });

  it('is deterministic for a seed and differs across seeds', async () => {
    const run = (seed: number) => trainAdapter(encoder, { messages, groups }, { seed, maxEpochs: 3, validationFraction: 0 });
    const [a, b, c] = await Promise.all([run(1), run(1), run(2)]);
    expect(a.adapter.toJson().query).toEqual(b.adapter.toJson().query);
    expect(a.adapter.toJson().query).not.toEqual(c.adapter.toJson().query);
    expect(a.report.epochs).toBe(3);
  });

  it('trains the evolving gate on the embeddings the evolving encoder really makes', async () => {
    const { adapter, report } = await trainAdapter(encoder, { messages, groups }, { evolving: true, maxEpochs: 3, validationFraction: 0, gateLearningRate: 0.5 });
    expect(report.evolving).toBe(true);
    const trained = adapter.evolving!;
    expect(trained.gate).not.toEqual(new EvolvingEncoder(encoder).weights.gate);
    // What the trainer optimized is what an evolving stream with these weights produces.
    const streamA = new EvolvingEncoder(encoder, { weights: trained, onWarning: () => {} }).stream('a');
    const inA = messages.filter((m) => m.conversation === 'a');
    const traced = await streamA.ingestTraced(inA.map((m) => ({ id: m.id, text: m.text, speaker: m.speaker!, session: m.session! })));
    traced.embeddings.forEach((e, i) => expect([...mixReadOut(traced.bases[i]!, traced.traces[i]!, trained)]).toEqual([...e]));
    const table = await DocumentTable.build(encoder, messages, {});
    table.setGate(trained.gate);
    inA.forEach((m, i) => {
      const row = messages.indexOf(m);
      expect(Math.max(...[...table.vector(row)].map((x, d) => Math.abs(x - traced.embeddings[i]![d]!)))).toBeLessThan(1e-6);
    });
  });

  it('names bad groups and options', async () => {
    const bad = [{ ...groups[0]!, negativeIds: ['nope'] }];
    await expect(trainAdapter(encoder, { messages, groups: bad })).rejects.toThrow(/groups\[0\] \(query q0\) cites message "nope", which is not in messages/);
    await expect(trainAdapter(encoder, { messages, groups: [] })).rejects.toThrow(/no training groups/);
    await expect(trainAdapter(encoder, { messages, groups }, { validationFraction: 1 })).rejects.toThrow(/'validationFraction' must be a number >= 0 and < 1/);
    await expect(trainAdapter(encoder, { messages, groups }, { rank: 0 })).rejects.toThrow(/'rank' must be a positive integer/);
  });
});
