import { afterAll, beforeAll } from 'vitest';
import { Encoder } from './Encoder.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBertFolder, type BertFolderOptions } from '@evomem/onnx-builder';

/** A tiny BERT: enough to exercise every code path in milliseconds. */
export const TINY_BERT = {
  vocab_size: 0,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 128,
};

/** Writes a random-weight model folder in a fresh temp dir; the caller removes it with `cleanup`. */
export async function tinyModel(options: Partial<BertFolderOptions> & { name?: string } = {}): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const root = await mkdtemp(join(tmpdir(), 'evomem-test-'));
  const dir = join(root, options.name ?? 'tiny-bert');
  // std 0.5: random weights large enough that different texts get clearly different vectors.
  await writeBertFolder(dir, { config: TINY_BERT, std: 0.5, modelMaxLength: 64, ...options });
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

export function norm(a: Float32Array): number {
  return Math.sqrt(a.reduce((s, v) => s + v * v, 0));
}

/** Loads a tiny-model encoder on CPU before the suite's tests and frees both after; returns a getter. */
export function tinyEncoderForSuite(): () => Encoder {
  let model: { dir: string; cleanup: () => Promise<void> } | undefined;
  let encoder: Encoder | undefined;
  beforeAll(async () => {
    model = await tinyModel();
    encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
  });
  afterAll(async () => {
    await encoder?.dispose();
    await model?.cleanup();
  });
  return () => encoder!;
}
