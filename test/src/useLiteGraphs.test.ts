import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder } from '@evomem/core';
import { modelPath } from '@evomem/model-use-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARITY_SENTENCES } from './useLite/parityCorpus.js';

// The offline default model's rewrites (fused fp32 with optimize: true; int8) against
// the graph as converted: the same vectors, up to the stated tolerance, on a corpus with
// short and long texts in one batch (where attention-mask mistakes would show).
const texts = PARITY_SENTENCES;
let exported: Encoder;
let fused: Encoder;
let int8: Encoder;

let work: string;

beforeAll(async () => {
  // A copy of the model, so the rewrites are made by this code, not read from an earlier run's cache.
  work = await mkdtemp(join(tmpdir(), 'evomem-use-lite-'));
  const model = join(work, 'model');
  await cp(modelPath, model, { recursive: true, filter: (src) => !src.includes('evomem-cache') });
  exported = await Encoder.load({ model, device: 'cpu' });
  fused = await Encoder.load({ model, device: 'cpu', optimize: true });
  int8 = await Encoder.load({ model, device: 'cpu', dtype: 'int8' });
});
afterAll(async () => {
  await Promise.all([exported?.dispose(), fused?.dispose(), int8?.dispose()]);
  await rm(work, { recursive: true, force: true });
});

const cosines = (a: Float32Array[], b: Float32Array[]) => a.map((x, i) => x.reduce((s, v, d) => s + v * b[i]![d]!, 0));

describe('the default model, fused and int8', () => {
  it('runs the exported graph by default, a fused rewrite with optimize: true', () => {
    expect(exported.graph.transform).toBe('none');
    expect(fused.graph.cached).toBe(false);
    expect(int8.graph.cached).toBe(false);
    expect(exported.graph.path).toBe(exported.graph.source.path);
    expect(fused.graph.transform).toBe('fused');
    expect(Object.values(fused.graph.fusions ?? {}).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  });

  it('fused: the exported graph vectors, to float rounding', async () => {
    const c = cosines(await exported.embed(texts), await fused.embed(texts));
    expect(Math.min(...c)).toBeGreaterThan(0.99999);
  });

  it('int8: mean cosine to fp32 at least 0.99, no text below 0.97, and not the same function', async () => {
    const c = cosines(await exported.embed(texts), await int8.embed(texts));
    const mean = c.reduce((a, b) => a + b, 0) / c.length;
    expect(mean).toBeGreaterThanOrEqual(0.99);
    expect(Math.min(...c)).toBeGreaterThan(0.97);
    expect(mean).toBeLessThan(0.999999);
    expect(int8.graph.quantized?.quantized).toBeGreaterThan(0);
  });

  it('keeps the default query adapter on every graph: they share the exported graph fingerprint', async () => {
    const [a, b, c] = await Promise.all([exported.describeModel(), fused.describeModel(), int8.describeModel()]);
    expect(b.fingerprint).toBe(a.fingerprint);
    expect(c.fingerprint).toBe(a.fingerprint);
    expect(exported.adapter).toBeDefined();
    expect(fused.adapter).toBeDefined();
    expect(int8.adapter).toBeDefined();
  });
});
