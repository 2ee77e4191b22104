import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BertConfig } from '@evomem/onnx-builder';
import { writeBertFolder } from '@evomem/onnx-builder';
import { modelPath as useLitePath } from '@evomem/model-use-lite';
import { bertFlops, useLiteFlops, type FlopModel } from './flops.js';
import { sharedDir, workDir } from './shared.js';

/**
 * The models benchmarked: random-weight graphs of two real architectures (from
 * ../shared/models/<name>/config.json), compared with transformers.js; and the offline
 * default model, compared with its TF.js reference runtime.
 */
export const BENCH_MODELS = ['all-MiniLM-L6-v2', 'gte-small', 'use-lite'] as const;

export interface BenchModel {
  name: string;
  dir: string;
  flops: FlopModel;
  /** Hidden and FFN width, for the GEMM ceiling. */
  gemm: [number, number];
  /** The runtime compared against. */
  baseline: 'transformers.js' | 'tfjs-use-lite';
  /** Longest input in tokens. */
  maxLength: number;
}

/**
 * The offline default model is used as shipped. Other names get a random-weight ONNX graph of the real architecture with the real tokenizer, in
 * bench/.work/models/<name> (built once). Same cost per token as the real model; the
 * vectors mean nothing.
 */
export async function benchModel(name: string): Promise<BenchModel> {
  if (name === 'use-lite') return { name, dir: useLitePath, flops: useLiteFlops, gemm: [512, 1536], baseline: 'tfjs-use-lite', maxLength: 128 };
  const source = join(sharedDir, 'models', name);
  const config = JSON.parse(await readFile(join(source, 'config.json'), 'utf8')) as BertConfig;
  const dir = join(workDir, 'models', name);
  if (!existsSync(join(dir, 'onnx', 'model.onnx'))) {
    await writeBertFolder(dir, { config, tokenizerFrom: source, seed: 7 });
  }
  return { name, dir, flops: bertFlops(config), gemm: [config.hidden_size, config.intermediate_size], baseline: 'transformers.js', maxLength: 512 };
}
