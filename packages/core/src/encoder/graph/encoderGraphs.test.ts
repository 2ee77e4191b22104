import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvomemError } from '../../errors.js';
import { Encoder } from '../Encoder.js';
import { cosine, tinyModel } from '../fixtures.js';

const texts = ['where did Maya move?', 'Maya moved to Lisbon in May.', 'Theo adopted a greyhound called Biscuit after a long search.', 'ok'];

describe('Encoder.load: dtype int8 and optimize', () => {
  let model: Awaited<ReturnType<typeof tinyModel>>;
  let exported: Encoder;
  beforeAll(async () => {
    model = await tinyModel();
    exported = await Encoder.load({ model: model.dir, device: 'cpu' });
  });
  afterAll(async () => {
    await exported?.dispose();
    await model?.cleanup();
  });

  it("runs the exported file by default; dtype 'int8' runs a quantized graph derived from it", async () => {
    expect(exported.graph).toMatchObject({ transform: 'none', path: join(model.dir, 'onnx', 'model.onnx') });
    expect(existsSync(join(model.dir, 'onnx', 'evomem-cache'))).toBe(false);
    const int8 = await Encoder.load({ model: model.dir, device: 'cpu', dtype: 'int8' });
    try {
      expect(int8.graph.transform).toBe('int8');
      expect(int8.graph.path).toMatch(/onnx\/evomem-cache\/model\.int8\.[0-9a-f]{16}\.v\d+\.onnx$/);
      expect(int8.graph.source.path).toBe(exported.graph.path);
      expect(int8.graph.minCosineToSource).toBeGreaterThan(0.95);
      expect(await int8.describeModel()).toEqual(await exported.describeModel());
      const [a, b] = [await exported.embed(texts), await int8.embed(texts)];
      a.forEach((v, i) => expect(cosine(v, b[i]!)).toBeGreaterThan(0.97));
      expect(Math.min(...a.map((v, i) => cosine(v, b[i]!)))).toBeLessThan(0.999999);
    } finally {
      await int8.dispose();
    }
    // The second load reads the cached graph.
    const again = await Encoder.load({ model: model.dir, device: 'cpu', dtype: 'int8' });
    expect(again.graph.cached).toBe(true);
    await again.dispose();
  });

  it('runs a fused rewrite with optimize: true, with the same vectors and fingerprint', async () => {
    const fused = await Encoder.load({ model: model.dir, device: 'cpu', optimize: true });
    try {
      expect(fused.graph.transform).toBe('fused');
      expect(fused.graph.fusions).toMatchObject({ attention: 2 });
      expect(await fused.describeModel()).toEqual(await exported.describeModel());
      const [a, b] = [await exported.embed(texts), await fused.embed(texts)];
      a.forEach((v, i) => expect(cosine(v, b[i]!)).toBeGreaterThan(0.99999));
    } finally {
      await fused.dispose();
    }
  });

  it('runs a model_int8.onnx the folder ships when it has no fp32 graph, as it is', async () => {
    const shipped = await tinyModel({ modelFile: 'model_int8.onnx' });
    try {
      const encoder = await Encoder.load({ model: shipped.dir, device: 'cpu', dtype: 'int8' });
      expect(encoder.graph).toMatchObject({ transform: 'none', path: join(shipped.dir, 'onnx', 'model_int8.onnx') });
      await encoder.dispose();
    } finally {
      await shipped.cleanup();
    }
  });

  it('refuses int8 on a GPU device, naming the fix', async () => {
    const error = await Encoder.load({ model: model.dir, dtype: 'int8', device: 'cuda' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvomemError);
    expect((error as EvomemError).message).toMatch(/dtype 'int8' runs on the CPU; device is 'cuda'.*device: 'cpu'/);
  });

  it('checks the quantization options', async () => {
    const error = await Encoder.load({ model: model.dir, dtype: 'int8', quantization: { reduceRnage: true } as never }).catch((e: unknown) => e);
    expect((error as EvomemError).message).toMatch(/unknown option 'reduceRnage'.*Did you mean 'reduceRange'/);
  });

  it('refuses options that would be ignored', async () => {
    const quantizationOnFp32 = await Encoder.load({ model: model.dir, quantization: { reduceRange: true } }).catch((e: unknown) => e);
    expect((quantizationOnFp32 as EvomemError).message).toMatch(/'quantization' applies to dtype 'int8' only; dtype is 'fp32'/);
    const fusedInt8 = await Encoder.load({ model: model.dir, dtype: 'int8', optimize: true }).catch((e: unknown) => e);
    expect((fusedInt8 as EvomemError).message).toMatch(/int8 graphs are not fused/);
  });

  it('shares one rewrite between concurrent loads of a model', async () => {
    const fresh = await tinyModel();
    try {
      const encoders = await Promise.all(Array.from({ length: 4 }, () => Encoder.load({ model: fresh.dir, device: 'cpu', dtype: 'int8' })));
      expect(new Set(encoders.map((e) => e.graph.path)).size).toBe(1);
      expect(encoders[0]!.graph.path.startsWith(join(fresh.dir, 'onnx', 'evomem-cache'))).toBe(true);
      await Promise.all(encoders.map((e) => e.dispose()));
    } finally {
      await fresh.cleanup();
    }
  });

  it('keeps 7-bit and 8-bit graphs apart in the cache', async () => {
    const seven = await Encoder.load({ model: model.dir, device: 'cpu', dtype: 'int8', quantization: { reduceRange: true } });
    const eight = await Encoder.load({ model: model.dir, device: 'cpu', dtype: 'int8' });
    try {
      expect(seven.graph.path).toMatch(/\.int8-7bit\./);
      expect(seven.graph.path).not.toBe(eight.graph.path);
    } finally {
      await seven.dispose();
      await eight.dispose();
      await rm(join(model.dir, 'onnx', 'evomem-cache'), { recursive: true, force: true });
    }
  });
});
