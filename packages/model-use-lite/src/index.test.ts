import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { modelPath } from './index.js';

// The folder `modelPath` names is a plain model folder that any ONNX runtime and Hugging Face
// tokenizer load, without @evomem/core. That evomem's encoder gives the TF.js reference's
// vectors on it is checked across packages, in test/src/useLiteParity.test.ts.
const json = async (file: string) => JSON.parse(await readFile(join(modelPath, file), 'utf8'));

describe('modelPath', () => {
  it('runs as a model folder: token ids in, one unit-length 512-d sentence_embedding per text out', async () => {
    const tokenizer = new Tokenizer(await json('tokenizer.json'), await json('tokenizer_config.json'));
    const texts = ['Maya signed up for the pottery class.', 'Theo adopted a greyhound.'];
    const rows: number[][] = texts.map((t) => tokenizer.encode(t).ids);
    const width = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(texts.length * width);
    const mask = new BigInt64Array(texts.length * width);
    rows.forEach((row, i) => row.forEach((id, j) => ((ids[i * width + j] = BigInt(id)), (mask[i * width + j] = 1n))));

    const session = await ort.InferenceSession.create(join(modelPath, 'onnx', 'model.onnx'));
    expect([...session.inputNames].sort()).toEqual(['attention_mask', 'input_ids']);
    const out = await session.run({
      input_ids: new ort.Tensor('int64', ids, [texts.length, width]),
      attention_mask: new ort.Tensor('int64', mask, [texts.length, width]),
    });
    await session.release();
    const embedding = out.sentence_embedding!;
    expect(embedding.dims).toEqual([2, 512]);
    const data = embedding.data as Float32Array;
    for (let i = 0; i < texts.length; i++) expect(Math.hypot(...data.subarray(i * 512, (i + 1) * 512))).toBeCloseTo(1, 5);
  });

  it('declares its 128-token limit where Hugging Face tooling reads it', async () => {
    expect((await json('tokenizer_config.json')).model_max_length).toBe(128);
    expect((await json('config.json')).max_position_embeddings).toBe(128);
  });
});

describe('the default adapter', () => {
  it('ships in the folder, trained on exactly this graph, with fusion weights for both backends', async () => {
    const { createHash } = await import('node:crypto');
    const adapter = await json('adapter.json');
    const graph = await readFile(join(modelPath, 'onnx', 'model.onnx'));
    expect(adapter.format).toBe('evomem-adapter');
    // A graph rebuilt differently leaves the adapter out of the folder (and this fails): train it again with pnpm train:defaults.
    expect(adapter.model.fingerprint).toBe(`sha256:${createHash('sha256').update(graph).digest('hex')}`);
    expect(adapter.model.dimensions).toBe(512);
    expect(Object.keys(adapter.fusion).sort()).toEqual(['evolving', 'static']);
    expect(adapter.training.command).toBe('pnpm train:defaults');
  });
});
