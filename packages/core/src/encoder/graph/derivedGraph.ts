import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EvomemError } from '../../errors.js';
import { writeFileAtomic } from '../../util/files.js';
import { cacheRoot } from '../hub.js';
import { OnnxGraph } from './OnnxGraph.js';
import { quantizeDynamic, type QuantizeReport } from './quantize.js';

/**
 * Version of the rewrites. It is part of every cached file's name, so a release that
 * rewrites differently never reads a graph an older one wrote.
 */
export const REWRITE_VERSION = 1;

/** What evomem did to the exported graph before running it. */
export type GraphTransform = 'none' | 'fused' | 'int8';

export interface PrepareOptions {
  /**
   * Rewrite into onnxruntime's fused attention (fp32 only: in an int8 graph the fused
   * attention keeps its Q/K/V projections in float32 or pays a requantization, and measured
   * slower than the unfused int8 graph).
   */
  fuse: boolean;
  /** Quantize weight matrices to int8 (dynamic quantization). */
  int8: boolean;
  /** See `QuantizeOptions.reduceRange`. @default false */
  reduceRange?: boolean;
  /** Where derived graphs go when the model's own folder cannot be written. @default $EVOMEM_CACHE, else ~/.cache/evomem */
  cacheDir?: string;
  /** Compares a rewrite with the source before it is cached (see `agreement`): least cosine, 1 = same function. */
  check?: (derived: Uint8Array) => Promise<number>;
}

/** The graph onnxruntime opens, and where it came from. */
export interface PreparedGraph {
  /** The file to open. */
  path: string;
  /**
   * The exported graph it derives from, and `sha256:` of its bytes (what adapters record);
   * the fingerprint is absent when the file runs untouched (nothing needed it at load).
   */
  source: { path: string; fingerprint?: string };
  transform: GraphTransform;
  /** Read from an earlier run's cache rather than rewritten now. */
  cached: boolean;
  /** Fused patterns by kind, when fused. */
  fusions?: Record<string, number>;
  /** Weight matrices quantized, when int8. */
  quantized?: QuantizeReport;
  /** Least cosine to the source on the probe batch, measured when the rewrite was made. */
  minCosineToSource?: number;
}

interface Sidecar {
  format: 'evomem-derived-graph';
  version: number;
  source: string;
  transform: GraphTransform;
  fusions?: Record<string, number>;
  quantized?: QuantizeReport;
  /** Least cosine between the rewrite's and the source's sentence vectors on the probe batch. */
  minCosineToSource?: number;
  /** Why the source runs unchanged, when a fusion was refused. */
  reason?: string;
}

/** Least probe-batch cosine to the source a fused graph must reach: fusions reorder float sums, nothing more. */
const FUSED_FLOOR = 0.9999;
/** The same for int8: far below what quantization costs (about 0.999), far above a broken graph. */
const INT8_FLOOR = 0.95;
/** Below this an int8 graph is used, with a warning: its vectors visibly differ from fp32. */
const INT8_WARN = 0.99;

/** `sha256:` of a file's bytes, streamed. */
export function fileFingerprint(path: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(`sha256:${hash.digest('hex')}`));
  });
}

/**
 * Derives the graph to run from an exported one: fused (`fuse`) or int8 (`int8`),
 * cached beside the exported graph in `evomem-cache/` (else under the cache directory when
 * that folder is read-only) under a name keyed by the source's sha256 and `REWRITE_VERSION`,
 * so a re-exported model or a new release never reads a stale file. A fusion that finds
 * nothing to fuse is remembered too, and the exported graph runs as it is.
 */
export async function prepareGraph(sourcePath: string, options: PrepareOptions): Promise<PreparedGraph> {
  if (!options.fuse && !options.int8) return { path: sourcePath, source: { path: sourcePath }, transform: 'none', cached: false };
  const fingerprint = await knownFingerprint(sourcePath, cacheDirs(sourcePath, options));
  const transform: GraphTransform = options.int8 ? 'int8' : 'fused';
  const tag = `${transform}${options.int8 && options.reduceRange ? '-7bit' : ''}`;
  const name = `${basename(sourcePath, '.onnx')}.${tag}.${fingerprint.slice(7, 23)}.v${REWRITE_VERSION}`;
  // Loads of one model in one process (several encoders at start-up) share one rewrite.
  const key = `${dirname(sourcePath)}\0${name}`;
  let pending = inFlight.get(key);
  if (!pending) {
    pending = derive(sourcePath, fingerprint, name, options).finally(() => inFlight.delete(key));
    inFlight.set(key, pending);
  }
  return pending;
}

const inFlight = new Map<string, Promise<PreparedGraph>>();

/** Where derived graphs are kept: beside the source, else under the cache directory. */
function cacheDirs(sourcePath: string, options: PrepareOptions): string[] {
  return [join(dirname(sourcePath), 'evomem-cache'), join(cacheRoot(options.cacheDir), 'graphs')];
}

/**
 * The source's sha256, read from a note the cache keeps of it (`<name>.sha256.json`: size,
 * mtime, inode and hash) when the file is unchanged, so loading a cached rewrite of a large
 * model does not read the whole model again; hashed, and noted, otherwise.
 */
async function knownFingerprint(sourcePath: string, places: string[]): Promise<string> {
  const info = await stat(sourcePath);
  const identity = { size: info.size, mtimeMs: info.mtimeMs, ino: info.ino };
  const noteName = `${basename(sourcePath)}.sha256.json`;
  for (const dir of places) {
    const note = await readFile(join(dir, noteName), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
    if (note && note.size === identity.size && note.mtimeMs === identity.mtimeMs && note.ino === identity.ino && typeof note.fingerprint === 'string') return note.fingerprint;
  }
  const fingerprint = await fileFingerprint(sourcePath);
  for (const dir of places) {
    // Only a shortcut: where it cannot be written, the next load hashes again.
    if (await writeFileAtomic(join(dir, noteName), `${JSON.stringify({ ...identity, fingerprint })}\n`, 'the graph fingerprint note').then(() => true, () => false)) break;
  }
  return fingerprint;
}

async function derive(sourcePath: string, fingerprint: string, name: string, options: PrepareOptions): Promise<PreparedGraph> {
  const source = { path: sourcePath, fingerprint };
  const places = cacheDirs(sourcePath, options);

  for (const dir of places) {
    const sidecar = await readSidecar(join(dir, `${name}.json`), fingerprint);
    if (!sidecar) continue;
    if (sidecar.transform === 'none') return { path: sourcePath, source, transform: 'none', cached: true, ...(sidecar.fusions ? { fusions: sidecar.fusions } : {}) };
    const path = join(dir, `${name}.onnx`);
    if (await stat(path).then((f) => f.isFile(), () => false)) return { path, source, transform: sidecar.transform, cached: true, ...reports(sidecar) };
  }

  const result: Sidecar = { format: 'evomem-derived-graph', version: REWRITE_VERSION, source: fingerprint, transform: 'none' };
  let bytes: Uint8Array | undefined;
  try {
    const graph = await OnnxGraph.read(sourcePath);
    if (options.fuse && !options.int8) {
      const { fuseTransformer } = await import('./fuse.js');
      // The Attention op with the packed Q/K/V weights inside, and no SkipLayerNormalization:
      // the fastest form measured on onnxruntime's CPU kernels (fuse.ts says by how much).
      result.fusions = { ...fuseTransformer(graph, { keepWeightMatMuls: false }) };
    }
    if (options.int8) {
      result.quantized = quantizeDynamic(graph, { ...(options.reduceRange ? { reduceRange: true } : {}) });
      if (result.quantized.quantized === 0) {
        throw new EvomemError('GRAPH_UNSUPPORTED', `${sourcePath} has no MatMul or Gemm with a constant weight matrix to quantize, so int8 would change nothing. Load it with dtype 'fp32'.`);
      }
    }
    result.transform = result.quantized ? 'int8' : Object.values(result.fusions ?? {}).some((n) => n > 0) ? 'fused' : 'none';
    if (result.transform !== 'none') {
      graph.finish();
      graph.setMetadata('evomem.source', fingerprint);
      graph.setMetadata('evomem.transform', JSON.stringify({ version: REWRITE_VERSION, transform: result.transform, fusions: result.fusions, quantized: result.quantized }));
      bytes = graph.encode();
      if (options.check) {
        const cosine = await options.check(bytes);
        result.minCosineToSource = cosine;
        const floor = result.transform === 'int8' ? INT8_FLOOR : FUSED_FLOOR;
        if (!(cosine >= floor)) {
          const fix = result.transform === 'int8' && !options.reduceRange ? " Try quantization: { reduceRange: true } (7-bit weights), or dtype 'fp32'." : '';
          throw new EvomemError('GRAPH_UNSUPPORTED', `The ${result.transform} rewrite of ${sourcePath} disagrees with it (least cosine ${cosine.toFixed(4)} on a probe batch, below ${floor}).${fix}`);
        }
        if (result.transform === 'int8' && cosine < INT8_WARN) {
          process.emitWarning(`The int8 graph of ${sourcePath} agrees with fp32 only to a least cosine of ${cosine.toFixed(4)} on a probe batch. On x86 CPUs with AVX2 but no VNNI, quantization: { reduceRange: true } avoids saturated products; else use dtype 'fp32' where that matters.`, { code: 'EVOMEM_INT8_DEGRADED' });
        }
      }
    }
  } catch (error) {
    // The user asked for int8: failing to make it is an error. A fusion is an optimization:
    // the exported graph runs instead, and the sidecar remembers why.
    if (error instanceof EvomemError && error.code === 'MODEL_FILE_INVALID') throw error;
    if (options.int8) throw error instanceof EvomemError ? error : new EvomemError('GRAPH_UNSUPPORTED', `Could not make or check the int8 graph of ${sourcePath}: ${(error as Error).message}`, { cause: error });
    result.transform = 'none';
    result.reason = (error as Error).message;
    bytes = undefined;
    process.emitWarning(`${result.reason.replace(/\.?$/, '.')} It runs as exported; leave optimize off to skip the attempt.`, { code: 'EVOMEM_GRAPH_NOT_OPTIMIZED' });
    // A refusal evomem made (no agreement, an unsortable rewrite) holds for these bytes and
    // this rewrite version, so it is remembered; anything else may not happen next time.
    if (!(error instanceof EvomemError)) return { path: sourcePath, source, transform: 'none', cached: false };
  }
  for (const dir of places) {
    try {
      if (bytes) await writeFileAtomic(join(dir, `${name}.onnx`), bytes, 'the derived graph');
      await writeFileAtomic(join(dir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`, 'the derived graph record');
      const path = bytes ? join(dir, `${name}.onnx`) : sourcePath;
      return { path, source, transform: result.transform, cached: false, ...reports(result) };
    } catch (error) {
      if (dir !== places.at(-1)) continue;
      if (options.int8) throw error;
      // Nowhere to keep a fusion: run the exported graph rather than fail a load.
      process.emitWarning(`Could not cache the fused graph of ${sourcePath} (${(error as Error).message}); it runs as exported.`, { code: 'EVOMEM_GRAPH_NOT_OPTIMIZED' });
      return { path: sourcePath, source, transform: 'none', cached: false };
    }
  }
  throw new Error('unreachable');
}

function reports(s: Sidecar): Pick<PreparedGraph, 'fusions' | 'quantized' | 'minCosineToSource'> {
  return { ...(s.fusions ? { fusions: s.fusions } : {}), ...(s.quantized ? { quantized: s.quantized } : {}), ...(s.minCosineToSource !== undefined ? { minCosineToSource: s.minCosineToSource } : {}) };
}

/** A sidecar for this source and rewrite version; anything else (missing, damaged, another source) is a miss. */
async function readSidecar(path: string, fingerprint: string): Promise<Sidecar | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const s = JSON.parse(text) as Sidecar;
    return s.format === 'evomem-derived-graph' && s.version === REWRITE_VERSION && s.source === fingerprint ? s : undefined;
  } catch {
    return undefined;
  }
}
