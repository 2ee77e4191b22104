import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TfjsWeight {
  name: string;
  shape: number[];
  data: Float32Array | Int32Array;
}

interface Manifest {
  weightsManifest: { paths: string[]; weights: { name: string; shape: number[]; dtype: 'float32' | 'int32' }[] }[];
}

/** Reads a TF.js graph model's weights (model.json + binary shards) into named arrays. */
export async function readTfjsWeights(dir: string): Promise<Map<string, TfjsWeight>> {
  const manifest = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as Manifest;
  const weights = new Map<string, TfjsWeight>();
  for (const group of manifest.weightsManifest) {
    const buffer = Buffer.concat(await Promise.all(group.paths.map((p) => readFile(join(dir, p)))));
    let offset = 0;
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const bytes = buffer.subarray(offset, offset + count * 4);
      // Copy: shard buffers are not 4-byte aligned for typed-array views.
      const aligned = new Uint8Array(bytes).buffer;
      const data = spec.dtype === 'float32' ? new Float32Array(aligned) : new Int32Array(aligned);
      weights.set(spec.name, { name: spec.name, shape: spec.shape, data });
      offset += count * 4;
    }
    if (offset !== buffer.length) throw new Error(`weights of ${group.paths.join(', ')} cover ${offset} of ${buffer.length} bytes`);
  }
  return weights;
}

/** The one weight whose name ends with `suffix`; throws naming the suffix when none or several match. */
export function weight(weights: Map<string, TfjsWeight>, suffix: string): TfjsWeight {
  const found = [...weights.values()].filter((w) => w.name.endsWith(suffix));
  if (found.length !== 1) throw new Error(`expected one weight ending in ${suffix}, found ${found.length}`);
  return found[0]!;
}

/** A float scalar weight's value. */
export function scalar(weights: Map<string, TfjsWeight>, suffix: string): number {
  const w = weight(weights, suffix);
  if (w.data.length !== 1) throw new Error(`${w.name} is not a scalar`);
  return w.data[0]!;
}
