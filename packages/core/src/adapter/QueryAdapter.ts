import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { EvomemError } from '../errors.js';
import { normalizeInPlace } from '../encoder/pooling.js';
import type { EvolvingWeights } from '../memory/readOut.js';

/** The file an adapter folder holds. */
export const ADAPTER_FILE = 'adapter.json';

/** The frozen encoder an adapter was trained on. */
export interface AdapterModel {
  /** Model id as given (hub id, folder name, or the default model's package). */
  id: string;
  /** `sha256:` of the ONNX graph file: adapters only fit the exact weights they were trained on. */
  fingerprint: string;
  dimensions: number;
}

/**
 * The query-side projection: `low-rank` is q + U (V^T q) (U and V are `dimensions x rank`),
 * `linear` is A q (`dimensions x dimensions`); both start as the identity.
 */
export type QueryProjection =
  | { kind: 'low-rank'; rank: number; u: Float32Array; v: Float32Array }
  | { kind: 'linear'; matrix: Float32Array };

export interface QueryAdapterInit {
  model: AdapterModel;
  projection: QueryProjection;
  /** Trained read-out and gate of the evolving encoder; null when trained on static embeddings. */
  evolving?: EvolvingWeights | null;
  /** How it was trained (data, options, epochs, losses, time), kept for reports. */
  training?: Record<string, unknown> | null;
}

interface AdapterFileJson {
  format: 'evomem-adapter';
  version: 1;
  model: AdapterModel;
  query: { kind: 'low-rank'; rank: number; u: string; v: string } | { kind: 'linear'; matrix: string };
  evolving: EvolvingWeights | null;
  training: Record<string, unknown> | null;
}

/**
 * A trained projection applied to query embeddings of a frozen encoder (documents are left
 * as they are, so an index never has to be re-embedded), plus, when trained with the
 * evolving encoder, its gate. Written by `trainAdapter` and `evomem train` as
 * `adapter.json` (format `evomem-adapter`, version 1; float32 weights in base64).
 *
 * @example
 * const encoder = await Encoder.load({ adapter: './my-adapter' });
 * const q = await encoder.embedQuery('What did Maya say about the move?'); // projected
 */
export class QueryAdapter {
  readonly model: AdapterModel;
  readonly projection: QueryProjection;
  readonly evolving: EvolvingWeights | null;
  readonly training: Record<string, unknown> | null;

  constructor(init: QueryAdapterInit) {
    this.model = init.model;
    this.projection = init.projection;
    this.evolving = init.evolving ?? null;
    this.training = init.training ?? null;
    const D = init.model.dimensions;
    const p = init.projection;
    const expected = p.kind === 'linear' ? [['matrix', p.matrix, D * D]] : [['u', p.u, D * p.rank], ['v', p.v, D * p.rank]];
    for (const [name, values, n] of expected as [string, Float32Array, number][]) {
      if (values.length !== n) throw new EvomemError('STATE_INVALID', `Adapter projection ${name} holds ${values.length} values; ${p.kind} at ${D} dimensions needs ${n}.`);
    }
    if (this.evolving && this.evolving.dimensions !== D) throw new EvomemError('STATE_INVALID', `Adapter evolving weights are ${this.evolving.dimensions}-d; the adapter is ${D}-d.`);
  }

  /** Trainable numbers in the query projection. */
  get parameters(): number {
    const p = this.projection;
    return p.kind === 'linear' ? p.matrix.length : p.u.length + p.v.length;
  }

  /** The projected query: A q (or q + U V^T q), scaled to unit length when `normalize`. */
  apply(q: Float32Array, normalize = true): Float32Array {
    const D = this.model.dimensions;
    if (q.length !== D) throw new EvomemError('INVALID_OPTION', `The adapter takes ${D}-d vectors, got ${q.length}-d.`);
    const out = projectQuery(this.projection, q, D);
    if (normalize) normalizeInPlace(out);
    return out;
  }

  /** Throws unless `model` is the one the adapter was trained on. */
  checkModel(model: AdapterModel, source = 'this adapter'): void {
    if (model.dimensions !== this.model.dimensions) {
      throw new EvomemError(
        'STATE_INVALID',
        `${source} was trained on ${this.model.id} at ${this.model.dimensions} dimensions; the encoder gives ${model.dimensions}-d vectors (${model.id}). Train an adapter for this model and dimension (evomem train --model ...).`,
      );
    }
    if (model.fingerprint !== this.model.fingerprint) {
      throw new EvomemError(
        'STATE_INVALID',
        `${source} was trained on ${this.model.id} (${this.model.fingerprint.slice(0, 19)}...); the encoder runs ${model.id} (${model.fingerprint.slice(0, 19)}...), ` +
          'whose embeddings it does not fit. Load the model it was trained on, or train an adapter for this one (evomem train --model ...).',
      );
    }
  }

  /** Reads an adapter from its folder or its `adapter.json`. */
  static async load(path: string): Promise<QueryAdapter> {
    const file = await adapterFilePath(path);
    let json: AdapterFileJson;
    try {
      json = JSON.parse(await readFile(file, 'utf8')) as AdapterFileJson;
    } catch (error) {
      throw new EvomemError('STATE_INVALID', `${file} is not a readable adapter file: ${(error as Error).message}. Train one with evomem train --out DIR.`, { cause: error });
    }
    return QueryAdapter.fromJson(json, file);
  }

  /** Parses the JSON form (`load` reads it from disk). */
  static fromJson(json: unknown, source = 'adapter'): QueryAdapter {
    const j = json as AdapterFileJson;
    if (j?.format !== 'evomem-adapter') throw new EvomemError('STATE_INVALID', `${source} is not an evomem adapter (format ${JSON.stringify(j?.format)}).`);
    if (j.version !== 1) throw new EvomemError('STATE_INVALID', `${source} is adapter format version ${j.version}; this @evomem/core reads version 1. Upgrade @evomem/core.`);
    const m = j.model;
    if (typeof m?.id !== 'string' || typeof m.fingerprint !== 'string' || !Number.isInteger(m.dimensions)) throw new EvomemError('STATE_INVALID', `${source}: model must give id, fingerprint and dimensions.`);
    const q = j.query;
    const projection: QueryProjection =
      q?.kind === 'linear'
        ? { kind: 'linear', matrix: fromBase64(q.matrix) }
        : q?.kind === 'low-rank'
          ? { kind: 'low-rank', rank: q.rank, u: fromBase64(q.u), v: fromBase64(q.v) }
          : (() => {
              throw new EvomemError('STATE_INVALID', `${source}: query projection kind must be low-rank or linear.`);
            })();
    try {
      return new QueryAdapter({ model: m, projection, evolving: j.evolving ?? null, training: j.training ?? null });
    } catch (error) {
      throw new EvomemError('STATE_INVALID', `${source}: ${(error as Error).message}`, { cause: error });
    }
  }

  toJson(): AdapterFileJson {
    const p = this.projection;
    return {
      format: 'evomem-adapter',
      version: 1,
      model: this.model,
      query: p.kind === 'linear' ? { kind: 'linear', matrix: toBase64(p.matrix) } : { kind: 'low-rank', rank: p.rank, u: toBase64(p.u), v: toBase64(p.v) },
      evolving: this.evolving,
      training: this.training,
    };
  }

  /**
   * Writes the adapter into a folder (as `adapter.json`), or to a path ending in `.json`.
   * The file is written whole, then renamed over the old one, so a crash never leaves half
   * an adapter. Returns the file written.
   */
  async save(path: string): Promise<string> {
    const file = path.endsWith('.json') ? path : join(path, ADAPTER_FILE);
    await mkdir(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, `${JSON.stringify(this.toJson())}\n`);
    await rename(tmp, file);
    return file;
  }
}

/** z = A q, or q + U (V^T q), unnormalized. */
export function projectQuery(p: QueryProjection, q: ArrayLike<number>, D: number): Float32Array {
  const out = new Float32Array(D);
  if (p.kind === 'linear') {
    for (let i = 0; i < D; i++) {
      let s = 0;
      const row = i * D;
      for (let j = 0; j < D; j++) s += p.matrix[row + j]! * q[j]!;
      out[i] = s;
    }
    return out;
  }
  const r = p.rank;
  const h = new Float64Array(r);
  for (let d = 0; d < D; d++) {
    const qd = q[d]!;
    for (let k = 0; k < r; k++) h[k]! += p.v[d * r + k]! * qd;
  }
  for (let d = 0; d < D; d++) {
    let s = q[d]!;
    for (let k = 0; k < r; k++) s += p.u[d * r + k]! * h[k]!;
    out[d] = s;
  }
  return out;
}

/** `path` itself when it is a file, else the adapter file inside the folder. */
export async function adapterFilePath(path: string): Promise<string> {
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new EvomemError('STATE_INVALID', `Adapter ${path} does not exist. Give the folder evomem train --out wrote, or its ${ADAPTER_FILE}.`);
  return info.isDirectory() ? join(path, ADAPTER_FILE) : path;
}

function toBase64(values: Float32Array): string {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64');
}

function fromBase64(text: string): Float32Array {
  const bytes = Buffer.from(typeof text === 'string' ? text : '', 'base64');
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes.subarray(0, out.length * 4));
  return out;
}
