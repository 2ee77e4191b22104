import { readFile, writeFile } from 'node:fs/promises';
import { normalizeInPlace } from '../encoder/pooling.js';
import { EvomemError } from '../errors.js';
import type { MemoryQueue } from './MemoryQueue.js';

/**
 * The trainable parameters of the latent read-out, as written to a weights file (JSON):
 * `{"format": "evomem-evolving-weights", "version": 1, "dimensions", "temperature",
 * "gate": {"scale", "bias", "max"}, "projection": number[] | null}`. `projection` is a
 * row-major `dimensions x dimensions` matrix applied to the read-out (null: identity).
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

/** Checks parsed evolving weights (format, version, dimensions, projection size); `source` names them in errors. */
export function checkEvolvingWeights(json: unknown, source: string, dimensions?: number): EvolvingWeights {
  const w = json as EvolvingWeights;
  if (w?.format !== 'evomem-evolving-weights' || w.version !== 1) throw new EvomemError('STATE_INVALID', `${source} is not an evomem evolving weights file (format/version).`);
  if (dimensions !== undefined && w.dimensions !== dimensions) {
    throw new EvomemError('STATE_INVALID', `${source} holds ${w.dimensions}-d weights; the encoder gives ${dimensions}-d vectors (another model?).`);
  }
  if (w.projection !== null && w.projection.length !== w.dimensions * w.dimensions) throw new EvomemError('STATE_INVALID', `${source}: projection must hold dimensions^2 values.`);
  return w;
}

export async function saveEvolvingWeights(path: string, weights: EvolvingWeights): Promise<void> {
  await writeFile(path, JSON.stringify(weights));
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
