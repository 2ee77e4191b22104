import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder } from '@evomem/onnx-builder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cosine, tinyModel } from '../fixtures.js';
import { loadOrt } from '../session.js';
import { DataType, OnnxGraph } from './OnnxGraph.js';
import { quantizeDynamic } from './quantize.js';

/** Runs a graph (bytes) on one int64 batch and returns its first output. */
async function runBert(bytes: Uint8Array, ids: number[][]): Promise<Float32Array> {
  const ort = await loadOrt();
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  const seq = Math.max(...ids.map((r) => r.length));
  const flat = new BigInt64Array(ids.length * seq);
  const mask = new BigInt64Array(ids.length * seq);
  ids.forEach((row, r) => row.forEach((id, t) => ((flat[r * seq + t] = BigInt(id)), (mask[r * seq + t] = 1n))));
  const shape = [ids.length, seq];
  const out = await session.run({
    input_ids: new ort.Tensor('int64', flat, shape),
    attention_mask: new ort.Tensor('int64', mask, shape),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(flat.length), shape),
  });
  await session.release();
  return out[session.outputNames[0]!]!.data as Float32Array;
}

describe('quantizeDynamic', () => {
  let model: { dir: string; cleanup: () => Promise<void> };
  let source: Uint8Array;
  beforeAll(async () => {
    model = await tinyModel();
    source = await readFile(join(model.dir, 'onnx', 'model.onnx'));
  });
  afterAll(() => model.cleanup());

  it('turns every constant-weight MatMul and its bias Add into one DynamicQuantizeMatMul', async () => {
    const graph = await OnnxGraph.decode(source);
    const before = graph.opCounts();
    const report = quantizeDynamic(graph);
    graph.finish();
    // The tiny BERT has 2 layers of Q, K, V, attention-out, FFN up and down, each with a bias.
    expect(report.quantized).toBe(12);
    expect(report.biasFused).toBe(12);
    const after = graph.opCounts();
    expect(after.DynamicQuantizeMatMul).toBe(12);
    // Left: the two activation x activation MatMuls per layer (scores, context).
    expect(after.MatMul).toBe(before.MatMul! - 12);
    expect(after.Add).toBe(before.Add! - 12);
    expect(graph.model.opsetImport?.some((o) => o.domain === 'com.microsoft')).toBe(true);
    const weights = graph.model.graph!.initializer!.filter((t) => t.dataType === DataType.INT8 && t.dims?.length === 2);
    expect(weights).toHaveLength(12);
    expect(report.weightBytes.after).toBeLessThan(report.weightBytes.before / 3);
  });

  it('runs in onnxruntime and agrees with the fp32 graph on padded batches', async () => {
    const graph = await OnnxGraph.decode(source);
    quantizeDynamic(graph);
    graph.finish();
    const ids = [
      [2, 7, 9, 11, 13, 5, 3],
      [2, 8, 3],
      [2, 4, 6, 8, 10, 12, 14, 16, 18, 3],
    ];
    const fp32 = await runBert(source, ids);
    const int8 = await runBert(graph.encode(), ids);
    expect(int8.length).toBe(fp32.length);
    const width = 32;
    for (let row = 0; row < int8.length / width; row++) {
      expect(cosine(fp32.subarray(row * width, (row + 1) * width), int8.subarray(row * width, (row + 1) * width))).toBeGreaterThan(0.98);
    }
    expect(cosine(fp32, int8)).toBeGreaterThan(0.995);
  });

  it('keeps weights in [-63, 63] with reduceRange', async () => {
    const graph = await OnnxGraph.decode(source);
    quantizeDynamic(graph, { reduceRange: true });
    graph.finish();
    const weights = graph.model.graph!.initializer!.filter((t) => t.dataType === DataType.INT8 && t.dims?.length === 2);
    const values = weights.flatMap((t) => [...new Int8Array(t.rawData!.buffer, t.rawData!.byteOffset, t.rawData!.byteLength)]);
    expect(Math.max(...values.slice(0, 50_000))).toBe(63);
    expect(values.every((v) => v >= -63 && v <= 63)).toBe(true);
  });

  it('maps a Gemm with a transposed constant weight and bias onto the same op', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['batch', 16]);
    const w = Float32Array.from({ length: 8 * 16 }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 8)));
    const b = Float32Array.from({ length: 8 }, (_, i) => i / 10);
    g.output(g.node('Gemm', [x, g.floats(w, [8, 16], 'w'), g.floats(b, [8], 'b')], { transB: 1 }), 'float32', ['batch', 8], 'y');
    const bytes = g.toBytes();
    const graph = await OnnxGraph.decode(bytes);
    expect(quantizeDynamic(graph).quantized).toBe(1);
    graph.finish();
    expect(graph.opCounts()).toEqual({ DynamicQuantizeMatMul: 1, Identity: 1 });
    const ort = await loadOrt();
    const input = Float32Array.from({ length: 3 * 16 }, (_, i) => Math.cos(i));
    const run = async (model: Uint8Array) => {
      const session = await ort.InferenceSession.create(model, { logSeverityLevel: 3 });
      const out = (await session.run({ x: new ort.Tensor('float32', input, [3, 16]) })).y!.data as Float32Array;
      await session.release();
      return out;
    };
    const [want, got] = [await run(bytes), await run(graph.encode())];
    for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 0);
    expect(cosine(want, got)).toBeGreaterThan(0.999);
  });

  it('gives each output column its own scale, so small columns keep their resolution', async () => {
    // Column c of W is scaled by 10^(c % 3 - 1): 0.1x, 1x, 10x. One scale per matrix would
    // round the small columns to a handful of levels.
    const K = 64;
    const N = 6;
    const w = Float32Array.from({ length: K * N }, (_, i) => Math.sin(i * 0.37) * 10 ** ((i % N) % 3 - 1));
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['batch', K]);
    g.output(g.node('MatMul', [x, g.floats(w, [K, N], 'w')]), 'float32', ['batch', N], 'y');
    const graph = await OnnxGraph.decode(g.toBytes());
    quantizeDynamic(graph);
    graph.finish();
    const scale = graph.model.graph!.initializer!.find((t) => t.name?.includes('_scale'))!;
    expect(scale.dims?.map(Number)).toEqual([N]);
    const scales = new Float32Array(new Uint8Array(scale.rawData!).buffer);
    expect(Math.max(...scales) / Math.min(...scales)).toBeGreaterThan(50);
    const q = graph.model.graph!.initializer!.find((t) => t.dataType === DataType.INT8 && t.dims?.length === 2)!;
    const levels = new Int8Array(new Uint8Array(q.rawData!).buffer);
    for (let c = 0; c < N; c++) {
      let top = 0;
      for (let r = 0; r < K; r++) {
        top = Math.max(top, Math.abs(levels[r * N + c]!));
        // Each weight is its column's scale times its level, to half a level.
        expect(Math.abs(levels[r * N + c]! * scales[c]! - w[r * N + c]!)).toBeLessThanOrEqual(scales[c]! / 2 + 1e-7);
      }
      // Every column uses the full int8 range, the small ones included.
      expect(top).toBe(127);
    }
  });

  it('folds only a bias of shape [N] into the node', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['batch', 8]);
    const w = g.floats(Float32Array.from({ length: 64 }, (_, i) => Math.sin(i)), [8, 8], 'w');
    g.output(g.node('Add', [g.node('MatMul', [x, w]), g.floats(new Float32Array(8).fill(0.5), [1, 8], 'b')]), 'float32', ['batch', 8], 'y');
    const graph = await OnnxGraph.decode(g.toBytes());
    const report = quantizeDynamic(graph);
    graph.finish();
    expect(report).toMatchObject({ quantized: 1, biasFused: 0 });
    expect(graph.opCounts()).toMatchObject({ DynamicQuantizeMatMul: 1, Add: 1 });
  });

  it('leaves a MatMul of two activations alone', async () => {
    const g = new GraphBuilder();
    const a = g.input('a', 'float32', [2, 4]);
    const b = g.input('b', 'float32', [4, 2]);
    g.output(g.node('MatMul', [a, b]), 'float32', [2, 2], 'y');
    const graph = await OnnxGraph.decode(g.toBytes());
    expect(quantizeDynamic(graph).quantized).toBe(0);
    expect(graph.opCounts().MatMul).toBe(1);
  });
});
