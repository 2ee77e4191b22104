import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EvomemError } from '../errors.js';
import { normalizeInPlace } from '../encoder/pooling.js';
import { checkEvolvingWeights, type EvolvingWeights } from '../memory/readOut.js';
import { FieldChecker, verifyChecksum, withChecksum } from '../util/fields.js';
import { writeFileAtomic } from '../util/files.js';
import { checkOptions, describeValue, is } from '../util/options.js';
import { checkFusionWeights, type FusionWeights } from '../retrieval/pipeline.js';

/** Fusion weights of the retrieval pipeline trained with an adapter, per backend. */
export type AdapterFusion = Partial<Record<'static' | 'evolving', FusionWeights>>;

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
  /** The retrieval pipeline's fusion weights learned with it (`trainFusion`); a `SearchIndex` uses them for its backend. */
  fusion?: AdapterFusion | null;
}

interface AdapterFileJson {
  format: 'evomem-adapter';
  version: 1;
  model: AdapterModel;
  query: { kind: 'low-rank'; rank: number; u: string; v: string } | { kind: 'linear'; matrix: string };
  evolving: EvolvingWeights | null;
  training: Record<string, unknown> | null;
  fusion?: AdapterFusion | null;
  /** SHA-256 of the rest (see `withChecksum`); files without one are read unchecked. */
  checksum?: string;
}

const objectOrNull = is.anyOf(is.object, is.oneOf(null));
const INIT_SPEC = { model: is.object, projection: is.object, evolving: objectOrNull, training: objectOrNull, fusion: objectOrNull };
const STATE_FIX = 'Train the adapter again (evomem train --out DIR) or restore the file.';

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
  readonly fusion: AdapterFusion | null;

  constructor(init: QueryAdapterInit) {
    checkOptions('new QueryAdapter', init, INIT_SPEC);
    const checked = checkInit(init, new FieldChecker('QueryAdapter', 'Give finite weights of the declared shape (trainAdapter makes them).'));
    this.model = checked.model;
    this.projection = checked.projection;
    this.evolving = checked.evolving;
    this.training = init.training ?? null;
    this.fusion = init.fusion ? checkFusion(init.fusion, 'QueryAdapter fusion') : null;
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
    if (typeof path !== 'string' || path === '') throw new EvomemError('INVALID_OPTION', `QueryAdapter.load takes the adapter's folder or adapter.json path, got ${describeValue(path)}.`);
    const file = await adapterFilePath(path);
    let json: unknown;
    try {
      json = JSON.parse(await readFile(file, 'utf8'));
    } catch (error) {
      throw new EvomemError('STATE_INVALID', `${file} is not a readable adapter file: ${(error as Error).message}. Train one with evomem train --out DIR.`, { cause: error });
    }
    return QueryAdapter.fromJson(json, file);
  }

  /**
   * Parses the JSON form (`load` reads it from disk), checking every field: format and
   * version, the model, the projection's kind, rank and weights (base64 float32, finite, of
   * the declared shape), the evolving weights, and the checksum. `source` names it in errors.
   */
  static fromJson(json: unknown, source = 'adapter'): QueryAdapter {
    const check = new FieldChecker(source, STATE_FIX);
    const j = json as Partial<Record<keyof AdapterFileJson, unknown>> | null | undefined;
    if (typeof j !== 'object' || j === null || j.format !== 'evomem-adapter') throw new EvomemError('STATE_INVALID', `${source} is not an evomem adapter (format ${describeValue(j?.format)}).`);
    if (j.version !== 1) throw new EvomemError('STATE_INVALID', `${source} is adapter format version ${describeValue(j.version)}; this @evomem/core reads version 1. Upgrade @evomem/core.`);
    const q = check.object(j.query, 'query');
    const weights = (field: 'u' | 'v' | 'matrix') => fromBase64(q[field], `query.${field}`, check);
    const projection: QueryProjection =
      q.kind === 'linear'
        ? { kind: 'linear', matrix: weights('matrix') }
        : q.kind === 'low-rank'
          ? { kind: 'low-rank', rank: q.rank as number, u: weights('u'), v: weights('v') }
          : (() => {
              throw check.fail('query.kind', `must be "low-rank" or "linear", got ${describeValue(q.kind)}`);
            })();
    const init = checkInit({ model: j.model as AdapterModel, projection, evolving: (j.evolving ?? null) as EvolvingWeights | null }, check, 'query');
    if (j.training !== undefined && j.training !== null) check.object(j.training, 'training');
    verifyChecksum(j as Record<string, unknown>, ['format', 'version', 'model', 'query', 'evolving', 'training', 'fusion'], (why) => new EvomemError('STATE_INVALID', `${source} ${why}.`));
    let fusion: AdapterFusion | null = null;
    if (j.fusion !== undefined && j.fusion !== null) {
      try {
        fusion = checkFusion(check.object(j.fusion, 'fusion') as AdapterFusion, `${source} fusion`);
      } catch (error) {
        throw new EvomemError('STATE_INVALID', `${source}: ${(error as Error).message} ${STATE_FIX}`, { cause: error });
      }
    }
    return new QueryAdapter({ ...init, training: (j.training ?? null) as Record<string, unknown> | null, fusion });
  }

  toJson(): AdapterFileJson {
    const p = this.projection;
    return withChecksum({
      format: 'evomem-adapter',
      version: 1,
      model: this.model,
      query: p.kind === 'linear' ? { kind: 'linear', matrix: toBase64(p.matrix) } : { kind: 'low-rank', rank: p.rank, u: toBase64(p.u), v: toBase64(p.v) },
      evolving: this.evolving,
      training: this.training,
      ...(this.fusion ? { fusion: this.fusion } : {}),
    } satisfies AdapterFileJson);
  }

  /**
   * Writes the adapter into a folder (as `adapter.json`), or to a path ending in `.json`.
   * The file is written whole, then renamed over the old one, so a crash never leaves half
   * an adapter. Returns the file written.
   */
  async save(path: string): Promise<string> {
    const file = path.endsWith('.json') ? path : join(path, ADAPTER_FILE);
    await writeFileAtomic(file, `${JSON.stringify(this.toJson())}\n`, 'the adapter');
    return file;
  }
}

function checkFusion(fusion: AdapterFusion, where: string): AdapterFusion {
  checkOptions(where, fusion, { static: is.object, evolving: is.object });
  for (const backend of ['static', 'evolving'] as const) if (fusion[backend]) checkFusionWeights(`${where}.${backend}`, fusion[backend]);
  return fusion;
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

/**
 * Float32 values from base64, refusing what is not whole float32s in base64. Validity is
 * checked on the text, because Node's decoder skips characters it does not know.
 */
function fromBase64(text: unknown, field: string, check: FieldChecker): Float32Array {
  if (typeof text !== 'string') throw check.fail(field, `must be float32 weights in base64, got ${describeValue(text)}`);
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw check.fail(field, 'is not valid base64 (cut short or damaged)');
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 4 !== 0) throw check.fail(field, `holds ${bytes.length} bytes, not whole float32 values (cut short or damaged)`);
  const out = new Float32Array(bytes.length / 4);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/**
 * Checks an adapter's parts: the model, the projection (kind, rank, Float32Array weights of
 * the model's shape, finite), the evolving weights (at the model's width). `prefix` is where
 * the projection lives in the source (`projection` in memory, `query` in a file).
 */
function checkInit(init: QueryAdapterInit, check: FieldChecker, prefix = 'projection'): { model: AdapterModel; projection: QueryProjection; evolving: EvolvingWeights | null } {
  const m = check.object(init.model, 'model');
  const model: AdapterModel = {
    id: check.value<string>(m.id, 'model.id', is.nonEmptyString),
    fingerprint: check.value<string>(m.fingerprint, 'model.fingerprint', is.nonEmptyString),
    dimensions: check.value<number>(m.dimensions, 'model.dimensions', is.int(1)),
  };
  const D = model.dimensions;
  const p = check.object(init.projection, prefix) as Partial<Record<'kind' | 'rank' | 'u' | 'v' | 'matrix', unknown>>;
  const floats = (field: 'u' | 'v' | 'matrix', n: number, shape: string): Float32Array => {
    const values = p[field];
    if (!(values instanceof Float32Array)) throw check.fail(`${prefix}.${field}`, `must be a Float32Array, got ${describeValue(values)}`);
    check.weights(values, `${prefix}.${field}`, n, shape);
    return values;
  };
  let projection: QueryProjection;
  if (p.kind === 'linear') projection = { kind: 'linear', matrix: floats('matrix', D * D, `linear at ${D} dimensions`) };
  else if (p.kind === 'low-rank') {
    const rank = check.value<number>(p.rank, `${prefix}.rank`, is.int(1));
    projection = { kind: 'low-rank', rank, u: floats('u', D * rank, `low-rank at ${D} dimensions`), v: floats('v', D * rank, `low-rank at ${D} dimensions`) };
  } else throw check.fail(`${prefix}.kind`, `must be "low-rank" or "linear", got ${describeValue(p.kind)}`);
  const evolving = init.evolving === undefined || init.evolving === null ? null : checkEvolvingWeights(init.evolving, check.source, undefined, { code: check.code, field: 'evolving' });
  if (evolving && evolving.dimensions !== D) throw check.fail('evolving.dimensions', `is ${evolving.dimensions}; the adapter is ${D}-d`);
  return { model, projection, evolving };
}
