import { readFile } from 'node:fs/promises';
import { normalizeInPlace } from '../encoder/pooling.js';
import { EvomemError, type EvomemErrorCode } from '../errors.js';
import { FieldChecker, verifyChecksum, withChecksum } from '../util/fields.js';
import { writeFileAtomic } from '../util/files.js';
import { describeValue, is } from '../util/options.js';
import type { MemoryQueue } from './MemoryQueue.js';

/**
 * The trainable parameters of the latent read-out, as written to a weights file (JSON):
 * `{"format": "evomem-evolving-weights", "version": 1, "dimensions", "temperature",
 * "gate": {"scale", "bias", "max"}, "projection": number[] | null}`. `projection` is a
 * row-major `dimensions x dimensions` matrix applied to the read-out (null: identity).
 * `saveEvolvingWeights` adds a `checksum`; `checkEvolvingWeights` says what each field takes.
 */
export interface EvolvingWeights {
  format: 'evomem-evolving-weights';
  version: 1;
  dimensions: number;
  /** Softmax temperature of attention over the queue. */
  temperature: number;
  /** Gate g = max * sigmoid(scale * (best similarity) + bias): how much memory is mixed in. */
  gate: { scale: number; bias: number; max: number };
  projection: number[] | null;
}

/**
 * Training-free read-out defaults: sharp attention (temperature 0.1), and a gate that mixes
 * in memory only when a past turn is clearly related (g = 0.5 sigmoid(10 s - 5): 0.02 at
 * similarity 0.2, 0.25 at 0.5, 0.47 at 0.8). Identity projection.
 */
export function defaultEvolvingWeights(dimensions: number): EvolvingWeights {
  return { format: 'evomem-evolving-weights', version: 1, dimensions, temperature: 0.1, gate: { scale: 10, bias: -5, max: 0.5 }, projection: null };
}

/** Reads and checks an evolving weights file. */
export async function loadEvolvingWeights(path: string, dimensions?: number): Promise<EvolvingWeights> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new EvomemError('STATE_INVALID', `${path} is not a readable evolving weights file: ${(error as Error).message}`, { cause: error });
  }
  return checkEvolvingWeights(json, path, dimensions);
}

/**
 * Checks evolving weights (parsed from a file, or given in memory) and returns a clean copy:
 * format and version, every field present, temperature > 0, gate numbers finite with `max`
 * in [0, 1], a `dimensions x dimensions` projection of finite weights, the checksum when the
 * file has one, and `dimensions` when given. Errors name `source` and the field (under
 * `at.field` when the weights sit inside something else) and carry `at.code`.
 */
export function checkEvolvingWeights(json: unknown, source: string, dimensions?: number, at: { code?: EvomemErrorCode; field?: string } = {}): EvolvingWeights {
  const code = at.code ?? 'STATE_INVALID';
  const check = new FieldChecker(source, 'Train them again (evomem train, saveEvolvingWeights) or restore the file.', code);
  const name = (field: string) => (at.field ? `${at.field}.${field}` : field);
  const where = at.field ? `${source}: field "${at.field}"` : source;
  const w = json as Partial<Record<keyof EvolvingWeights, unknown>> | null | undefined;
  if (typeof w !== 'object' || w === null || w.format !== 'evomem-evolving-weights' || w.version !== 1) {
    throw new EvomemError(code, `${where} is not evomem evolving weights (format ${describeValue(w?.format)}, version ${describeValue(w?.version)}; expected "evomem-evolving-weights", 1).`);
  }
  const D = check.value<number>(w.dimensions, name('dimensions'), is.int(1));
  const temperature = check.value<number>(w.temperature, name('temperature'), is.number(0, Infinity, true));
  const gate = check.object(w.gate, name('gate'));
  const scale = check.value<number>(gate.scale, name('gate.scale'), is.number());
  const bias = check.value<number>(gate.bias, name('gate.bias'), is.number());
  const max = check.value<number>(gate.max, name('gate.max'), is.number(0, 1));
  const projection = w.projection;
  if (projection !== null && !Array.isArray(projection)) throw check.fail(name('projection'), `must be null (identity) or an array of ${D * D} numbers, got ${describeValue(projection)}`);
  if (projection) check.weights(projection, name('projection'), D * D, `a ${D} x ${D} matrix`);
  verifyChecksum(w as Record<string, unknown>, ['format', 'version', 'dimensions', 'temperature', 'gate', 'projection'], (why) => new EvomemError(code, `${where} ${why}.`));
  if (dimensions !== undefined && D !== dimensions) {
    throw new EvomemError(code, `${where} holds ${D}-d weights; the encoder gives ${dimensions}-d vectors (another model?).`);
  }
  return { format: 'evomem-evolving-weights', version: 1, dimensions: D, temperature, gate: { scale, bias, max }, projection: projection ? [...(projection as number[])] : null };
}

/** Writes evolving weights as JSON with a checksum, after checking them. */
export async function saveEvolvingWeights(path: string, weights: EvolvingWeights): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(withChecksum(checkEvolvingWeights(weights, 'saveEvolvingWeights weights', undefined, { code: 'INVALID_OPTION' }))), 'the evolving weights');
}

/** What the latent read-out of one turn saw in the memory queue. */
export interface ReadOutTrace {
  /** r = softmax(queue . e / T) . queue, over the queue and the summary of what it evicted. */
  readout: Float32Array;
  /** The best cosine between the turn and a memory: what the gate opens on. */
  best: number;
}

/** The read-out of `e` against the queue as it stands; null while the queue is empty. */
export function readOutTrace(queue: MemoryQueue, e: Float32Array, temperature: number): ReadOutTrace | null {
  const { data, head, size, slots } = queue.ring;
  const count = size + (queue.evicted > 0 ? 1 : 0);
  if (count === 0) return null;
  const D = e.length;
  // Memories oldest first, then the summary of the evicted ones; the order is fixed, so a
  // restored queue (another ring layout) gives the same sums to the last bit.
  const row = (j: number): [Float32Array, number] => (j < size ? [data, ((head + j) % slots) * D] : [queue.evictedSummary, 0]);
  const sims = new Float64Array(count);
  let best = -Infinity;
  for (let j = 0; j < count; j++) {
    const [m, at] = row(j);
    let s = 0;
    for (let d = 0; d < D; d++) s += m[at + d]! * e[d]!;
    sims[j] = s;
    if (s > best) best = s;
  }
  let total = 0;
  for (let j = 0; j < count; j++) total += sims[j] = Math.exp((sims[j]! - best) / temperature);
  const readout = new Float32Array(D);
  for (let j = 0; j < count; j++) {
    const [m, at] = row(j);
    const a = sims[j]! / total;
    for (let d = 0; d < D; d++) readout[d]! += a * m[at + d]!;
  }
  return { readout, best };
}

/** The gate's opening for a best similarity: max * sigmoid(scale * best + bias). */
export function gateValue(gate: EvolvingWeights['gate'], best: number): number {
  return gate.max / (1 + Math.exp(-(gate.scale * best + gate.bias)));
}

/** normalize(e + g * P r): the evolving embedding of a turn from its base and read-out. */
export function mixReadOut(e: Float32Array, trace: ReadOutTrace | null, w: EvolvingWeights): Float32Array {
  const out = Float32Array.from(e);
  if (!trace) return out;
  const D = e.length;
  const projected = w.projection ? matVec(w.projection, trace.readout, D) : trace.readout;
  const g = gateValue(w.gate, trace.best);
  for (let d = 0; d < D; d++) out[d]! += g * projected[d]!;
  normalizeInPlace(out);
  return out;
}

/** Row-major `D x D` matrix times vector. */
export function matVec(m: number[], v: Float32Array, D: number): Float32Array {
  const out = new Float32Array(D);
  for (let i = 0; i < D; i++) {
    let s = 0;
    for (let j = 0; j < D; j++) s += m[i * D + j]! * v[j]!;
    out[i] = s;
  }
  return out;
}
