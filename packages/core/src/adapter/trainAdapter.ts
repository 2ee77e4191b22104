import type { Encoder } from '../encoder/Encoder.js';
import { EvomemError } from '../errors.js';
import { checkEvolvingOptions, EvolvingEncoder, type EvolvingOptions } from '../memory/EvolvingEncoder.js';
import { gateValue, matVec, type EvolvingWeights } from '../memory/readOut.js';
import type { NegativeGroup, SamplerMessage } from '../sampler/HierarchicalNegativeSampler.js';
import { checkOptions, is } from '../util/options.js';
import { isHeldOut, normalDraw, seededRandom, shuffleInPlace } from '../util/random.js';
import { dot } from '../util/vector.js';
import { Adam } from './Adam.js';
import { projectQuery, QueryAdapter, type QueryProjection } from './QueryAdapter.js';

/** What the adapter is trained on: the messages (in conversation order) and mined groups over them. */
export interface AdapterTrainingData {
  /** Every message, each conversation in the order it was said (the evolving encoder ingests them so). */
  messages: readonly SamplerMessage[];
  /** `(query, positive, negatives)` groups whose ids are message ids, e.g. from `HierarchicalNegativeSampler.sample()`. */
  groups: readonly NegativeGroup[];
}

export interface TrainAdapterOptions {
  /** `low-rank`: q + U V^T q; `linear`: a full matrix. Both start as the identity. @default 'low-rank' */
  projection?: 'low-rank' | 'linear';
  /** Rank of the low-rank projection. @default 16 */
  rank?: number;
  /** InfoNCE temperature. HiNS: 0.02. @default 0.02 */
  temperature?: number;
  /**
   * Negative queue (MoCo): documents of earlier batches kept as extra negatives, FIFO. The
   * query's own evidence and near-duplicates of its positive are never used. 0 turns it off.
   * @default 1024
   */
  queueSize?: number;
  /** Queue entries more similar than this to the positive are skipped as likely false negatives (as the sampler's guard). @default 0.9 */
  duplicateThreshold?: number;
  /** Groups per step. @default 32 */
  batchSize?: number;
  /** Most passes over the training groups; early stopping usually ends sooner. @default 30 */
  maxEpochs?: number;
  /** Adam step size of the projection. @default 0.002 */
  learningRate?: number;
  /** Adam step size of the evolving gate's three numbers. @default 0.02 */
  gateLearningRate?: number;
  /** Decoupled weight decay pulling the projection back to the identity. @default 0.01 */
  weightDecay?: number;
  /** Share of queries held out (by a seeded hash of the query id) for early stopping. 0: no validation, `maxEpochs` epochs. @default 0.1 */
  validationFraction?: number;
  /** Epochs without a better validation loss before stopping; the best epoch's weights are kept. @default 3 */
  patience?: number;
  /** Seeds the split, the initialization and the order of groups. @default 1 */
  seed?: number;
  /**
   * Train for the evolving encoder: documents are its context-aware embeddings (each
   * conversation ingested in order, with these options), and its gate is trained with the
   * projection. The read-out's temperature and projection stay as given.
   * @default false (static document embeddings)
   */
  evolving?: boolean | Omit<EvolvingOptions, 'onWarning'>;
  /** Called after every step. */
  onProgress?: (progress: TrainingProgress) => void;
  /** Stops training between steps; rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface TrainingProgress {
  epoch: number;
  maxEpochs: number;
  /** Steps done in this epoch, of `steps`. */
  step: number;
  steps: number;
  trainLoss: number;
  /** Validation loss of the epoch before (undefined without validation). */
  validationLoss: number | undefined;
}

/** How a training run went; also stored in the adapter file's `training` field. */
export interface TrainingReport {
  projection: 'low-rank' | 'linear';
  rank: number | null;
  parameters: number;
  evolving: boolean;
  temperature: number;
  queueSize: number;
  seed: number;
  groups: { train: number; validation: number };
  queries: { train: number; validation: number };
  /** Epochs run (the best one's weights are kept). */
  epochs: number;
  bestEpoch: number;
  stoppedEarly: boolean;
  /** Mean training loss per epoch (index 0: epoch 1). */
  trainLoss: number[];
  /** Validation loss per epoch: index 0 is the untrained adapter (the identity). */
  validationLoss: number[];
  /** Validation recall@10 over each query's whole conversation, per epoch (index 0: untrained). */
  validationRecallAt10: number[];
  /** Time spent embedding messages and queries with the frozen encoder. */
  embedSeconds: number;
  /** Time spent in the optimization loop (validation included). */
  trainSeconds: number;
  msPerStep: number;
}

/**
 * Trains a query adapter on cached, frozen document embeddings: InfoNCE over each group's
 * negatives plus a negative queue, Adam, early stopping on held-out queries. With
 * `evolving`, the evolving encoder's gate is trained too. Plain Float32Array loops: with
 * documents frozen, a step is a few hundred thousand multiply-adds per query, and the run
 * is dominated by embedding the data once (see `TrainingReport.embedSeconds`).
 *
 * @example
 * const sampler = new HierarchicalNegativeSampler(messages, queries, { encoder });
 * const { groups } = await sampler.sample();
 * const { adapter, report } = await trainAdapter(encoder, { messages, groups });
 * await adapter.save('./my-adapter');
 */
export async function trainAdapter(encoder: Encoder, data: AdapterTrainingData, options: TrainAdapterOptions = {}): Promise<{ adapter: QueryAdapter; report: TrainingReport }> {
  const o = resolveOptions(options);
  // Not Array.isArray on the fields themselves: it would narrow their readonly types to any[].
  const given = data as { messages?: unknown; groups?: unknown } | undefined;
  if (!Array.isArray(given?.messages) || !Array.isArray(given.groups)) {
    throw new EvomemError('INVALID_OPTION', 'trainAdapter takes { messages, groups }: the messages in conversation order and groups mined over them (HierarchicalNegativeSampler).');
  }
  const D = encoder.dimensions;
  const rowOf = new Map(data.messages.map((m, i) => [m.id, i]));
  if (rowOf.size !== data.messages.length) throw new EvomemError('INVALID_OPTION', 'trainAdapter: message ids must be unique.');
  data.groups.forEach((g, i) => {
    const unknown = [g.positiveId, ...g.negativeIds].find((id) => !rowOf.has(id));
    if (unknown !== undefined) throw new EvomemError('INVALID_OPTION', `trainAdapter: groups[${i}] (query ${g.queryId}) cites message ${JSON.stringify(unknown)}, which is not in messages.`);
  });
  if (data.groups.length === 0) throw new EvomemError('INVALID_OPTION', 'trainAdapter: no training groups. Mine some first (HierarchicalNegativeSampler, evomem mine).');

  // Embed everything once with the frozen encoder.
  const embedStart = performance.now();
  const docs = await DocumentTable.build(encoder, data.messages, o.evolving);
  const queryTexts = [...new Set(data.groups.map((g) => g.query))];
  // Raw queries: the encoder's prompt, but never an adapter it may already carry.
  const rawQueries = await encoder.embed(queryTexts.map((t) => encoder.queryPrompt + t));
  const queryVector = new Map(queryTexts.map((t, i) => [t, rawQueries[i]!]));
  const embedSeconds = (performance.now() - embedStart) / 1000;

  // Split by query, so no query is both trained on and validated on.
  const random = seededRandom(o.seed);
  const evidence = new Map<string, Set<number>>();
  for (const g of data.groups) {
    const set = evidence.get(g.queryId) ?? new Set<number>();
    set.add(rowOf.get(g.positiveId)!);
    evidence.set(g.queryId, set);
  }
  const queryIds = [...evidence.keys()];
  const held = new Set(queryIds.filter((id) => isHeldOut(id, o.seed, o.validationFraction)));
  const validating = held.size > 0 && held.size < queryIds.length;
  const trainGroups = data.groups.filter((g) => !validating || !held.has(g.queryId));
  const validationGroups = validating ? data.groups.filter((g) => held.has(g.queryId)) : [];

  const projection = initialProjection(o, D, random);
  const params = projection.kind === 'linear' ? [projection.matrix] : [projection.u, projection.v];
  const optimizers = params.map(
    (p) => new Adam(p, { learningRate: o.learningRate, weightDecay: o.weightDecay, ...(projection.kind === 'linear' ? { decayTarget: identity(D) } : {}) }),
  );
  const gate = docs.weights ? Float32Array.of(docs.weights.gate.scale, docs.weights.gate.bias, docs.weights.gate.max) : undefined;
  const gateOptimizer = gate ? new Adam(gate, { learningRate: o.gateLearningRate }) : undefined;
  const setGate = () => gate && docs.setGate({ scale: gate[0]!, bias: gate[1]!, max: Math.min(1, Math.max(0, gate[2]!)) });

  const validate = () => (validating ? validation(validationGroups, evidence, rowOf, docs, queryVector, projection, o.temperature, D) : undefined);
  const first = validate();
  const report: TrainingReport = {
    projection: projection.kind,
    rank: projection.kind === 'low-rank' ? projection.rank : null,
    parameters: params.reduce((n, p) => n + p.length, 0),
    evolving: docs.weights !== undefined,
    temperature: o.temperature,
    queueSize: o.queueSize,
    seed: o.seed,
    groups: { train: trainGroups.length, validation: validationGroups.length },
    queries: { train: new Set(trainGroups.map((g) => g.queryId)).size, validation: held.size },
    epochs: 0,
    bestEpoch: 0,
    stoppedEarly: false,
    trainLoss: [],
    validationLoss: first ? [first.loss] : [],
    validationRecallAt10: first ? [first.recallAt10] : [],
    embedSeconds,
    trainSeconds: 0,
    msPerStep: 0,
  };
  let best = { loss: first?.loss ?? Infinity, params: params.map((p) => Float32Array.from(p)), gate: gate ? Float32Array.from(gate) : undefined };

  const queue = new NegativeQueue(o.queueSize);
  const trainStart = performance.now();
  let steps = 0;
  const order = [...trainGroups];
  const stepsPerEpoch = Math.ceil(order.length / o.batchSize);
  for (let epoch = 1; epoch <= o.maxEpochs; epoch++) {
    shuffleInPlace(order, random);
    let lossSum = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      if (o.signal?.aborted) throw o.signal.reason;
      const batch = order.slice(s * o.batchSize, (s + 1) * o.batchSize);
      const grads = params.map((p) => new Float64Array(p.length));
      const docGrads = new Map<number, Float64Array>();
      for (const g of batch) {
        const pos = rowOf.get(g.positiveId)!;
        const candidates = [pos, ...g.negativeIds.map((id) => rowOf.get(id)!)];
        const taken = new Set(candidates);
        const own = evidence.get(g.queryId)!;
        const positive = docs.vector(pos);
        for (const row of queue.rows()) {
          if (taken.has(row) || own.has(row) || dot(docs.vector(row), positive) > o.duplicateThreshold) continue;
          taken.add(row);
          candidates.push(row);
        }
        lossSum += infoNceBackward(queryVector.get(g.query)!, candidates, projection, grads, docs, docGrads, o.temperature, D, batch.length);
      }
      optimizers.forEach((opt, i) => opt.step(grads[i]!));
      if (gate && gateOptimizer) {
        gateOptimizer.step(docs.gateGradient(docGrads));
        setGate();
      }
      for (const g of batch) queue.push([rowOf.get(g.positiveId)!, ...g.negativeIds.map((id) => rowOf.get(id)!)]);
      steps++;
      o.onProgress?.({ epoch, maxEpochs: o.maxEpochs, step: s + 1, steps: stepsPerEpoch, trainLoss: lossSum / Math.min(order.length, (s + 1) * o.batchSize), validationLoss: report.validationLoss.at(-1) });
    }
    report.epochs = epoch;
    report.trainLoss.push(lossSum / order.length);
    const v = validate();
    if (!v) continue;
    report.validationLoss.push(v.loss);
    report.validationRecallAt10.push(v.recallAt10);
    if (v.loss < best.loss) {
      best = { loss: v.loss, params: params.map((p) => Float32Array.from(p)), gate: gate ? Float32Array.from(gate) : undefined };
      report.bestEpoch = epoch;
    }
    if (epoch - report.bestEpoch >= o.patience) {
      report.stoppedEarly = epoch < o.maxEpochs;
      break;
    }
  }
  if (validating) {
    best.params.forEach((p, i) => params[i]!.set(p));
    if (gate && best.gate) gate.set(best.gate);
    setGate();
  } else report.bestEpoch = report.epochs;
  report.trainSeconds = (performance.now() - trainStart) / 1000;
  report.msPerStep = steps ? (report.trainSeconds * 1000) / steps : 0;

  const adapter = new QueryAdapter({
    model: await encoder.describeModel(),
    projection,
    evolving: docs.weights ?? null,
    training: { ...report },
  });
  return { adapter, report };
}

const positive = is.number(0, Infinity, true);
const TRAIN_SPEC = {
  projection: is.oneOf('low-rank', 'linear'),
  rank: is.int(1),
  temperature: positive,
  queueSize: is.int(0),
  duplicateThreshold: is.number(-1, 1),
  batchSize: is.int(1),
  maxEpochs: is.int(1),
  learningRate: positive,
  gateLearningRate: positive,
  weightDecay: is.number(0),
  validationFraction: { expect: 'a number >= 0 and < 1', test: (v: unknown) => typeof v === 'number' && v >= 0 && v < 1 },
  patience: is.int(1),
  seed: is.int(0),
  evolving: is.anyOf(is.boolean, is.object),
  onProgress: is.function,
  signal: is.instance(AbortSignal),
};

function resolveOptions(options: TrainAdapterOptions) {
  checkOptions('trainAdapter', options, TRAIN_SPEC);
  const evolving = options.evolving === true ? {} : options.evolving || undefined;
  return {
    projection: options.projection ?? 'low-rank',
    rank: options.rank ?? 16,
    temperature: options.temperature ?? 0.02,
    queueSize: options.queueSize ?? 1024,
    duplicateThreshold: options.duplicateThreshold ?? 0.9,
    batchSize: options.batchSize ?? 32,
    maxEpochs: options.maxEpochs ?? 30,
    learningRate: options.learningRate ?? 0.002,
    gateLearningRate: options.gateLearningRate ?? 0.02,
    weightDecay: options.weightDecay ?? 0.01,
    validationFraction: options.validationFraction ?? 0.1,
    patience: options.patience ?? 3,
    seed: options.seed ?? 1,
    evolving: evolving && checkEvolvingOptions<Omit<EvolvingOptions, 'onWarning'>>('trainAdapter evolving', evolving),
    onProgress: options.onProgress,
    signal: options.signal,
  };
}

function initialProjection(o: ReturnType<typeof resolveOptions>, D: number, random: () => number): QueryProjection {
  if (o.projection === 'linear') return { kind: 'linear', matrix: identity(D) };
  // LoRA-style start: U = 0 makes the projection the identity; a random V lets U's gradient flow.
  const v = Float32Array.from({ length: D * o.rank }, () => normalDraw(random) / Math.sqrt(D));
  return { kind: 'low-rank', rank: o.rank, u: new Float32Array(D * o.rank), v };
}

/**
 * Forward and backward of one InfoNCE term; candidates[0] is the positive. Adds the
 * projection's gradient (scaled by 1 / batch) into `grads` and, for the evolving encoder,
 * the documents' gradients into `docGrads`. Returns the loss.
 */
export function infoNceBackward(
  q: Float32Array,
  candidates: number[],
  p: QueryProjection,
  grads: Float64Array[],
  docs: DocumentTable,
  docGrads: Map<number, Float64Array>,
  temperature: number,
  D: number,
  batch: number,
): number {
  const z = projectQuery(p, q, D);
  const zNorm = Math.sqrt(dot(z, z)) || 1;
  const qn = z.map((x) => x / zNorm);
  const logits = candidates.map((row) => dot(qn, docs.vector(row)) / temperature);
  const top = Math.max(...logits);
  const exps = logits.map((l) => Math.exp(l - top));
  const total = exps.reduce((a, b) => a + b, 0);
  const loss = Math.log(total) + top - logits[0]!;

  const gq = new Float64Array(D);
  candidates.forEach((row, j) => {
    const coef = (exps[j]! / total - (j === 0 ? 1 : 0)) / temperature;
    if (coef === 0) return;
    const d = docs.vector(row);
    for (let k = 0; k < D; k++) gq[k]! += coef * d[k]!;
    if (docs.weights) {
      let gd = docGrads.get(row);
      if (!gd) docGrads.set(row, (gd = new Float64Array(D)));
      for (let k = 0; k < D; k++) gd[k]! += (coef * qn[k]!) / batch;
    }
  });
  // Through the normalization q' = z / |z|.
  const along = dot(qn, gq);
  const gz = new Float64Array(D);
  for (let k = 0; k < D; k++) gz[k] = (gq[k]! - qn[k]! * along) / zNorm / batch;
  if (p.kind === 'linear') {
    const ga = grads[0]!;
    for (let i = 0; i < D; i++) {
      const gi = gz[i]!;
      const row = i * D;
      for (let j = 0; j < D; j++) ga[row + j]! += gi * q[j]!;
    }
  } else {
    const r = p.rank;
    const [gu, gv] = grads as [Float64Array, Float64Array];
    const h = new Float64Array(r);
    const uTg = new Float64Array(r);
    for (let d = 0; d < D; d++) {
      for (let k = 0; k < r; k++) {
        h[k]! += p.v[d * r + k]! * q[d]!;
        uTg[k]! += p.u[d * r + k]! * gz[d]!;
      }
    }
    for (let d = 0; d < D; d++) {
      for (let k = 0; k < r; k++) {
        gu[d * r + k]! += gz[d]! * h[k]!;
        gv[d * r + k]! += q[d]! * uTg[k]!;
      }
    }
  }
  return loss;
}

/** Validation: each held-out (query, positive) against every message of its conversation, other evidence excluded. */
function validation(
  groups: readonly NegativeGroup[],
  evidence: Map<string, Set<number>>,
  rowOf: Map<string, number>,
  docs: DocumentTable,
  queryVector: Map<string, Float32Array>,
  p: QueryProjection,
  temperature: number,
  D: number,
): { loss: number; recallAt10: number } {
  let loss = 0;
  const recall = new Map<string, number>();
  for (const g of groups) {
    const pos = rowOf.get(g.positiveId)!;
    const own = evidence.get(g.queryId)!;
    const q = projectQuery(p, queryVector.get(g.query)!, D);
    const norm = Math.sqrt(dot(q, q)) || 1;
    const rows = docs.conversationRows(pos).filter((row) => row === pos || !own.has(row));
    const scores = rows.map((row) => dot(q, docs.vector(row)) / norm);
    const top = Math.max(...scores);
    const total = scores.reduce((a, s) => a + Math.exp((s - top) / temperature), 0);
    loss += Math.log(total) - (scores[rows.indexOf(pos)]! - top) / temperature;
    if (!recall.has(g.queryId)) {
      const all = docs.conversationRows(pos);
      const ranked = all.map((row) => ({ row, s: dot(q, docs.vector(row)) })).sort((a, b) => b.s - a.s).slice(0, 10);
      const hits = ranked.filter((x) => own.has(x.row)).length;
      recall.set(g.queryId, hits / own.size);
    }
  }
  const values = [...recall.values()];
  return { loss: loss / groups.length, recallAt10: values.reduce((a, b) => a + b, 0) / (values.length || 1) };
}

/**
 * The frozen document side: static embeddings, or the evolving encoder's bases and
 * read-outs, from which each document's embedding is recomputed when the gate changes.
 */
export class DocumentTable {
  readonly weights: EvolvingWeights | undefined;
  readonly #D: number;
  readonly #conversation: Int32Array;
  readonly #byConversation: number[][];
  readonly #current: Float32Array[];
  readonly #bases: Float32Array[];
  readonly #projected: (Float32Array | null)[];
  readonly #best: Float64Array;
  readonly #norm: Float64Array;
  readonly #stamp: Int32Array;
  #version = 0;

  private constructor(D: number, messages: readonly SamplerMessage[], bases: Float32Array[], traces: ({ readout: Float32Array; best: number } | null)[] | undefined, weights: EvolvingWeights | undefined) {
    this.#D = D;
    this.weights = weights ? { ...weights, gate: { ...weights.gate } } : undefined;
    const names = [...new Set(messages.map((m) => m.conversation))];
    this.#conversation = Int32Array.from(messages, (m) => names.indexOf(m.conversation));
    this.#byConversation = names.map(() => []);
    messages.forEach((_, i) => this.#byConversation[this.#conversation[i]!]!.push(i));
    this.#bases = bases;
    this.#projected = traces ? traces.map((t) => (t ? (weights?.projection ? matVec(weights.projection, t.readout, D) : t.readout) : null)) : bases.map(() => null);
    this.#best = Float64Array.from(traces ?? bases.map(() => null), (t) => t?.best ?? 0);
    this.#current = bases.map(() => new Float32Array(D));
    this.#norm = new Float64Array(bases.length);
    this.#stamp = new Int32Array(bases.length).fill(-1);
  }

  /** A table over given vectors (tests, and callers with their own embeddings). */
  static fromVectors(messages: readonly SamplerMessage[], bases: Float32Array[], traces?: ({ readout: Float32Array; best: number } | null)[], weights?: EvolvingWeights): DocumentTable {
    return new DocumentTable(bases[0]?.length ?? 0, messages, bases, traces, weights);
  }

  static async build(encoder: Encoder, messages: readonly SamplerMessage[], evolving: Omit<EvolvingOptions, 'onWarning'> | undefined): Promise<DocumentTable> {
    const D = encoder.dimensions;
    if (!evolving) return new DocumentTable(D, messages, await encoder.embedDocuments(messages.map((m) => m.text)), undefined, undefined);
    const evolvingEncoder = new EvolvingEncoder(encoder, { ...evolving, onWarning: () => {} });
    const bases: Float32Array[] = [];
    const traces: ({ readout: Float32Array; best: number } | null)[] = [];
    const conversations = new Map<string, SamplerMessage[]>();
    for (const m of messages) {
      const list = conversations.get(m.conversation);
      if (list) list.push(m);
      else conversations.set(m.conversation, [m]);
    }
    const at = new Map<string, number>();
    for (const [name, list] of conversations) {
      const stream = evolvingEncoder.stream(name);
      // A blank turn gets the same placeholder as in the evolving retriever.
      const out = await stream.ingestTraced(list.map((m) => ({ id: m.id, text: m.text.trim() === '' ? '(empty)' : m.text, ...(m.speaker ? { speaker: m.speaker } : {}), ...(m.session ? { session: m.session } : {}), ...(m.timestamp ? { timestamp: m.timestamp } : {}) })));
      list.forEach((m, i) => {
        at.set(m.id, bases.length);
        bases.push(out.bases[i]!);
        traces.push(out.traces[i]!);
      });
    }
    const order = messages.map((m) => at.get(m.id)!);
    return new DocumentTable(D, messages, order.map((i) => bases[i]!), order.map((i) => traces[i]!), evolvingEncoder.weights);
  }

  /** Rows of the same conversation as `row`. */
  conversationRows(row: number): number[] {
    return this.#byConversation[this.#conversation[row]!]!;
  }

  setGate(gate: EvolvingWeights['gate']): void {
    if (!this.weights) return;
    this.weights.gate = gate;
    this.#version++;
  }

  /** The document's current embedding: normalize(e + g P r), or the static one. */
  vector(row: number): Float32Array {
    const pr = this.#projected[row];
    if (!this.weights || !pr) return this.#bases[row]!;
    const out = this.#current[row]!;
    if (this.#stamp[row] === this.#version) return out;
    const e = this.#bases[row]!;
    const g = gateValue(this.weights.gate, this.#best[row]!);
    let sum = 0;
    for (let d = 0; d < this.#D; d++) {
      const y = e[d]! + g * pr[d]!;
      out[d] = y;
      sum += y * y;
    }
    const norm = Math.sqrt(sum) || 1;
    for (let d = 0; d < this.#D; d++) out[d]! /= norm;
    this.#norm[row] = norm;
    this.#stamp[row] = this.#version;
    return out;
  }

  /** Gradient of the loss for [scale, bias, max] of the gate, from the documents' gradients. */
  gateGradient(docGrads: Map<number, Float64Array>): Float64Array {
    const grad = new Float64Array(3);
    const w = this.weights;
    if (!w) return grad;
    for (const [row, gd] of docGrads) {
      const pr = this.#projected[row];
      if (!pr) continue;
      const d = this.vector(row);
      const along = dot(d, gd);
      let gg = 0;
      for (let k = 0; k < this.#D; k++) gg += ((gd[k]! - d[k]! * along) / this.#norm[row]!) * pr[k]!;
      const best = this.#best[row]!;
      const sig = 1 / (1 + Math.exp(-(w.gate.scale * best + w.gate.bias)));
      const dA = w.gate.max * sig * (1 - sig);
      grad[0]! += gg * dA * best;
      grad[1]! += gg * dA;
      grad[2]! += gg * sig;
    }
    return grad;
  }
}

/** FIFO of document rows from earlier batches. */
class NegativeQueue {
  readonly #rows: number[] = [];
  constructor(readonly capacity: number) {}

  push(rows: number[]): void {
    if (this.capacity === 0) return;
    this.#rows.push(...rows);
    if (this.#rows.length > this.capacity) this.#rows.splice(0, this.#rows.length - this.capacity);
  }

  rows(): readonly number[] {
    return this.#rows;
  }
}

function identity(D: number): Float32Array {
  const m = new Float32Array(D * D);
  for (let i = 0; i < D; i++) m[i * D + i] = 1;
  return m;
}

