import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { buildRandomBert, GraphBuilder, Rng } from '@evomem/onnx-builder';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { loadOrt } from '../session.js';
import { fuseTransformer, type FuseOptions } from './fuse.js';
import { OnnxGraph } from './OnnxGraph.js';

/**
 * Agreement with the unfused graph, per token (BERT) or per sentence (USE lite). The fused
 * kernels sum in another order, so results differ in the last float bits only; a mask or
 * scale mistake moves cosines to 0.9 or below.
 */
const MIN_COSINE = 0.99999;
const MAX_ABS_DIFF = 1e-4;

const BERT = { vocab_size: 120, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 64 };
/** Rows of different lengths, right-padded into one batch as evomem feeds them. */
const ROWS = [
  [2, 17, 33, 41, 8, 90, 12, 5, 3],
  [2, 64, 7, 3],
  [2, 3],
  [2, 50, 51, 52, 53, 3],
];
/** For graphs without a mask, where only unpadded batches are meaningful. */
const EQUAL_ROWS = [
  [2, 17, 33, 41],
  [2, 64, 7, 3],
  [5, 6, 7, 8],
];

async function fused(bytes: Uint8Array, options?: FuseOptions) {
  const graph = await OnnxGraph.decode(bytes);
  const report = fuseTransformer(graph, options);
  return { report, graph, ops: graph.opCounts(), bytes: graph.encode() };
}

/** Runs `rows` as one padded int64 batch and returns the first output, split per row (real tokens only for [B, S, H] outputs). */
async function run(bytes: Uint8Array, rows: number[][]): Promise<Float32Array[]> {
  const ort = await loadOrt();
  const session: InferenceSession = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 1, logSeverityLevel: 3 });
  try {
    const seq = Math.max(...rows.map((r) => r.length));
    const ids = new BigInt64Array(rows.length * seq);
    const mask = new BigInt64Array(rows.length * seq);
    rows.forEach((row, r) => row.forEach((id, t) => ((ids[r * seq + t] = BigInt(id)), (mask[r * seq + t] = 1n))));
    const feeds: Record<string, Tensor> = {};
    for (const name of session.inputNames) feeds[name] = new ort.Tensor('int64', name === 'attention_mask' ? mask : name === 'input_ids' ? ids : new BigInt64Array(ids.length), [rows.length, seq]);
    const out = (await session.run(feeds))[session.outputNames[0]!]!;
    const data = out.data as Float32Array;
    const width = out.dims.at(-1)!;
    return rows.map((row, r) => (out.dims.length === 3 ? data.slice(r * seq * width, (r * seq + row.length) * width) : data.slice(r * width, (r + 1) * width)));
  } finally {
    await session.release();
  }
}

/** Least cosine over `width`-long vectors and the largest element difference between two runs. */
function compare(a: Float32Array[], b: Float32Array[], width: number): { minCosine: number; maxAbsDiff: number } {
  let minCosine = 1;
  let maxAbsDiff = 0;
  a.forEach((row, r) => {
    for (let at = 0; at < row.length; at += width) {
      let [dot, na, nb] = [0, 0, 0];
      for (let i = at; i < at + width; i++) {
        const [x, y] = [row[i]!, b[r]![i]!];
        dot += x * y;
        na += x * x;
        nb += y * y;
        maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x - y));
      }
      minCosine = Math.min(minCosine, dot / Math.sqrt(na * nb));
    }
  });
  return { minCosine, maxAbsDiff };
}

/** The fused graph agrees with the unfused one on a padded batch, and gives each row what it gives that row alone. */
async function expectAgreement(source: Uint8Array, fusedBytes: Uint8Array, rows: number[][], width: number): Promise<void> {
  const expected = await run(source, rows);
  const actual = await run(fusedBytes, rows);
  const diff = compare(expected, actual, width);
  expect(diff.minCosine).toBeGreaterThanOrEqual(MIN_COSINE);
  expect(diff.maxAbsDiff).toBeLessThan(MAX_ABS_DIFF);
  const alone = await Promise.all(rows.map((row) => run(fusedBytes, [row]).then((x) => x[0]!)));
  expect(compare(alone, actual, width).minCosine).toBeGreaterThanOrEqual(MIN_COSINE);
}

describe('fuseTransformer on a BERT export', () => {
  // Weights larger than BERT's 0.02 so attention is far from uniform and a masking mistake shows.
  const source = buildRandomBert(BERT, { seed: 5, std: 0.3 });

  it('fuses each attention block into MultiHeadAttention after the Q/K/V MatMuls, with one int32 mask for all layers', async () => {
    const before = (await OnnxGraph.decode(source)).opCounts();
    const { report, graph, ops, bytes } = await fused(source);
    expect(report).toEqual({ attention: 2, skipLayerNorm: 0 });
    expect(ops.MultiHeadAttention).toBe(2);
    // The scores and context MatMuls move into the fused node; Q, K and V stay quantizable MatMuls.
    expect(ops.MatMul).toBe(before.MatMul! - 2 * 2);
    expect([ops.Softmax, ops.Transpose, ops.Reshape, ops.Split]).toEqual([undefined, undefined, undefined, undefined]);
    // The float additive mask is gone; both layers read one Cast of attention_mask to int32.
    const casts = graph.nodes.filter((n) => n.opType === 'Cast');
    expect(casts.map((n) => [n.input, n.attribute?.[0]?.i])).toEqual([[['attention_mask'], 6]]);
    expect(graph.nodes.filter((n) => n.input?.includes(casts[0]!.output![0]!)).map((n) => n.opType)).toEqual(['MultiHeadAttention', 'MultiHeadAttention']);
    await expectAgreement(source, bytes, ROWS, BERT.hidden_size);
  });

  it('packs Q, K and V into one MatMul and a Split with packQkv', async () => {
    const before = (await OnnxGraph.decode(source)).opCounts();
    const { ops, bytes } = await fused(source, { packQkv: true });
    expect([ops.MultiHeadAttention, ops.Split, ops.MatMul]).toEqual([2, 2, before.MatMul! - 2 * 4]);
    await expectAgreement(source, bytes, ROWS, BERT.hidden_size);
  });

  it('emits com.microsoft Attention holding the packed weights with keepWeightMatMuls: false', async () => {
    const { report, ops, bytes } = await fused(source, { keepWeightMatMuls: false });
    expect(report.attention).toBe(2);
    expect([ops.Attention, ops.MultiHeadAttention]).toEqual([2, undefined]);
    // Left as MatMul: attention output and the FFN's two, per layer.
    expect(ops.MatMul).toBe(2 * 3);
    await expectAgreement(source, bytes, ROWS, BERT.hidden_size);
  });

  it('fuses residual Add, bias Add and LayerNormalization into SkipLayerNormalization when asked, leaving the embedding LayerNorm', async () => {
    const { report, ops, bytes } = await fused(source, { skipLayerNorm: true });
    expect(report).toEqual({ attention: 2, skipLayerNorm: 4 });
    expect([ops.SkipLayerNormalization, ops.LayerNormalization]).toEqual([4, 1]);
    await expectAgreement(source, bytes, ROWS, BERT.hidden_size);
  });
});

/** Variations real exporters write around the same attention, in one block: x -> attention -> output projection. */
interface Variant {
  scale?: 'divScores' | 'mulScores' | 'mulQueryKey' | 'constantNode';
  mask?: 'mul' | 'where' | 'none';
  biasFirst?: boolean;
  keyTransposes?: 1 | 2;
  shapes?: 'constant' | 'concat';
  /** The attention probabilities are also a graph output: the block must stay unfused. */
  exposeProbabilities?: boolean;
}

const [H, HEADS, D] = [16, 2, 8];

function attentionBlock(v: Variant): Uint8Array {
  const rng = new Rng(11);
  const g = new GraphBuilder({ name: 'attention' });
  const ids = g.input('input_ids', 'int64', ['batch', 'sequence']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'sequence']);
  const x = g.node('Gather', [g.floats(rng.normal(100 * H, 1), [100, H], 'embeddings'), ids]);
  const linear = (input: string) => {
    const [mm, b] = [g.node('MatMul', [input, g.floats(rng.normal(H * H, 0.4), [H, H])]), g.floats(rng.normal(H, 0.4), [H])];
    return g.node('Add', v.biasFirst ? [b, mm] : [mm, b]);
  };
  const dim = (i: number) => g.node('Unsqueeze', [g.node('Gather', [g.node('Shape', [x]), g.ints([i], [])], { axis: 0 }), g.ints([0])]);
  const heads = v.shapes === 'concat' ? g.node('Concat', [dim(0), dim(1), g.node('Constant', [], { value_ints: [HEADS] }), g.node('Constant', [], { value_ints: [D] })], { axis: 0 }) : g.ints([0, 0, HEADS, D]);
  const split = (t: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [linear(t), heads])], { perm });
  const scalar = (value: number) => (v.scale === 'constantNode' ? g.node('Constant', [], { value_float: { float: value } }) : g.floats([value], [], 'scalar'));
  let q = split(x, [0, 2, 1, 3]);
  let k = v.keyTransposes === 2 ? g.node('Transpose', [split(x, [0, 2, 1, 3])], { perm: [0, 1, 3, 2] }) : split(x, [0, 2, 3, 1]);
  if (v.scale === 'mulQueryKey') [q, k] = [g.node('Mul', [q, scalar(D ** -0.25)]), g.node('Mul', [scalar(D ** -0.25), k])];
  let scores = g.node('MatMul', [q, k]);
  if (v.scale === 'mulScores') scores = g.node('Mul', [scores, scalar(1 / Math.sqrt(D))]);
  else if (v.scale !== 'mulQueryKey') scores = g.node('Div', [scores, scalar(Math.sqrt(D))]);
  const min = -3.4028234663852886e38;
  if (v.mask === 'where') {
    const expanded = g.node('Expand', [g.node('Unsqueeze', [g.node('Unsqueeze', [mask, g.ints([1])]), g.ints([2])]), g.node('Concat', [dim(0), g.ints([1]), dim(1), dim(1)], { axis: 0 })]);
    const inverted = g.node('Sub', [g.floats([1], []), g.node('Cast', [expanded], { to: 1 })]);
    scores = g.node('Add', [g.node('Where', [g.node('Cast', [inverted], { to: 9 }), g.floats([min], []), inverted]), scores]);
  } else if (v.mask !== 'none') {
    scores = g.node('Add', [scores, g.node('Mul', [g.node('Sub', [g.floats([1], []), g.node('Unsqueeze', [g.node('Cast', [mask], { to: 1 }), g.ints([1, 2])])]), g.floats([min], [])])]);
  }
  const probabilities = g.node('Softmax', [scores], { axis: -1 });
  const context = g.node('MatMul', [probabilities, split(x, [0, 2, 1, 3])]);
  const merged = g.node('Reshape', [g.node('Transpose', [context], { perm: [0, 2, 1, 3] }), g.ints([0, 0, H])]);
  g.output(linear(merged), 'float32', ['batch', 'sequence', H], 'last_hidden_state');
  if (v.exposeProbabilities) g.output(probabilities, 'float32', ['batch', HEADS, 'sequence', 'sequence'], 'attentions');
  return g.toBytes();
}

describe('fuseTransformer on exporter variations', () => {
  it.each<[string, Variant]>([
    ['Div of the scores by sqrt(d), multiplicative mask', {}],
    ['Mul of the scores by 1/sqrt(d), bias Add with the constant first', { scale: 'mulScores', biasFirst: true }],
    ['Q and K each scaled by d^-1/4, K^T as two transposes', { scale: 'mulQueryKey', keyTransposes: 2 }],
    ['constants as Constant nodes, head shapes built by Concat', { scale: 'constantNode', shapes: 'concat' }],
    ['mask by Where over an expanded [B, 1, S, S] mask', { mask: 'where' }],
    ['no mask at all', { mask: 'none' }],
  ])('%s', async (_, variant) => {
    const source = attentionBlock(variant);
    for (const options of [{}, { keepWeightMatMuls: false }]) {
      const { report, bytes } = await fused(source, options);
      expect(report.attention).toBe(1);
      await expectAgreement(source, bytes, variant.mask === 'none' ? EQUAL_ROWS : ROWS, H);
    }
  });

  it('leaves attention unfused when an intermediate value is read elsewhere', async () => {
    const { report } = await fused(attentionBlock({ exposeProbabilities: true }));
    expect(report.attention).toBe(0);
  });

  it('returns a graph with no matching pattern unchanged, byte for byte', async () => {
    const g = new GraphBuilder({ name: 'plain' });
    const x = g.input('x', 'float32', ['batch', 4]);
    const y = g.input('y', 'float32', ['batch', 4]);
    const probabilities = g.node('Softmax', [g.node('MatMul', [x, g.floats(new Float32Array(16).fill(0.1), [4, 4])])], { axis: -1 });
    const norm = g.node('LayerNormalization', [g.node('Add', [probabilities, y]), g.floats([1, 1, 1, 1], [4]), g.floats([0, 0, 0, 0], [4])], { axis: -1 });
    g.output(norm, 'float32', ['batch', 4], 'out');
    const bytes = g.toBytes();
    const graph = await OnnxGraph.decode(bytes);
    expect(fuseTransformer(graph, { skipLayerNorm: true })).toEqual({ attention: 0, skipLayerNorm: 0 });
    expect(Buffer.from(graph.encode()).equals(Buffer.from((await OnnxGraph.decode(bytes)).encode()))).toBe(true);
  });
});

const USE_LITE = fileURLToPath(new URL('../../../../model-use-lite/model/onnx/model.onnx', import.meta.url));

describe.skipIf(!existsSync(USE_LITE))('fuseTransformer on the USE lite graph (skipped: packages/model-use-lite/model/onnx/model.onnx not built)', () => {
  it('fuses both pre-norm attention blocks (packed QKV + Split, Mul-scaled query) and agrees on padded batches', async () => {
    const source = new Uint8Array(await readFile(USE_LITE));
    for (const options of [{ skipLayerNorm: true }, { keepWeightMatMuls: false }]) {
      const { report, ops, bytes } = await fused(source, options);
      expect(report.attention).toBe(2);
      expect(ops.Softmax).toBeUndefined();
      // The first LayerNorm reads the embeddings, with no projection before it; the other three follow residual Adds.
      if (options.skipLayerNorm) expect([report.skipLayerNorm, ops.LayerNormalization]).toEqual([3, 1]);
      await expectAgreement(source, bytes, ROWS.map((row) => row.map((id) => id * 37)), 512);
    }
  });
});
