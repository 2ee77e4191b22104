import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BertConfig } from '@evomem/onnx-builder';
import { writeBertFolder } from '@evomem/onnx-builder';
import { sharedDir, workDir } from './shared.js';

/** The real architectures benchmarked, from ../shared/models/<name>/config.json. */
export const BENCH_MODELS = ['all-MiniLM-L6-v2', 'gte-small'] as const;

export interface BenchModel {
  name: string;
  dir: string;
  config: BertConfig;
}

/**
 * A random-weight ONNX graph of the real architecture with the real tokenizer, in
 * bench/.work/models/<name> (built once). Same cost per token as the real model; the
 * vectors mean nothing.
 */
export async function benchModel(name: string): Promise<BenchModel> {
  const source = join(sharedDir, 'models', name);
  const config = JSON.parse(await readFile(join(source, 'config.json'), 'utf8')) as BertConfig;
  const dir = join(workDir, 'models', name);
  if (!existsSync(join(dir, 'onnx', 'model.onnx'))) {
    await writeBertFolder(dir, { config, tokenizerFrom: source, seed: 7 });
  }
  return { name, dir, config };
}
