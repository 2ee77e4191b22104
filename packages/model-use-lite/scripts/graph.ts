import { GraphBuilder } from '@evomem/onnx-builder';
import { scalar, weight, type TfjsWeight } from './tfjsWeights.js';

/** Longest input in tokens: the timing-signal table has this many rows. */
export const MAX_LENGTH = 128;

const ENCODE = 'Encoder_en/KonaTransformer/Encode';

/**
 * Rebuilds Universal Sentence Encoder lite ("KonaTransformer", 2 layers) as an ONNX graph
 * with dense inputs: `input_ids`, `attention_mask` int64 [batch, sequence] ->
 * `sentence_embedding` float32 [batch, 512], pooled and L2-normalized. The TF.js graph
 * takes sparse ids; the computation on them is reproduced op for op:
 *
 * - input to layer 0: 2 x token embedding + sinusoidal timing signal (AddTimingSignal adds
 *   the embedding it receives to an input that already is the embedding);
 * - layer 0 (256 wide): pre-norm attention (4 heads of 64) projecting to 512, plus a dense
 *   256 -> 512 residual branch on the un-normalized input; pre-norm ReLU FFN, residual;
 * - layer 1 (512 wide): the same with 4 heads of 128 and a plain residual; no final norm;
 * - masked mean over tokens, tanh dense layer, L2 normalization.
 *
 * Constants (query scales, epsilons, the padding bias, timing frequencies) are read from the
 * weights rather than restated here.
 */
export function buildUseLiteGraph(weights: Map<string, TfjsWeight>): Uint8Array {
  const g = new GraphBuilder({ name: 'universal_sentence_encoder_lite' });
  const w = (suffix: string, shape?: number[]) => {
    const t = weight(weights, suffix);
    const dims = shape ?? t.shape;
    return g.floats(t.data as Float32Array, dims, 'w');
  };
  const s = (v: number) => g.floats([v], [], 'scalar');
  const layerNormEps = scalar(weights, 'Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x');
  const paddingBias = scalar(weights, 'attention_bias_ignore_padding/mul/y');
  const l2Eps = scalar(weights, 'hidden_layers/l2_normalize/Maximum/y');

  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  // Positions past the timing table are dropped, as the TF graph's ClipToMaxLength does.
  const clip = (x: string) => g.node('Slice', [x, g.ints([0]), g.ints([MAX_LENGTH]), g.ints([1])]);
  const ids = clip(inputIds);
  const mask = g.node('Cast', [clip(attentionMask)], { to: 1 });
  const seqLen = g.node('Unsqueeze', [g.node('Gather', [g.node('Shape', [ids]), g.ints([1], [])], { axis: 0 }), g.ints([0])]);

  const embedded = g.node('Gather', [w('module/Embeddings_en'), ids]);
  const signal = g.node('Slice', [g.floats(timingSignal(weight(weights, 'AddTimingSignal/TimingSignal/ExpandDims_1').data as Float32Array), [MAX_LENGTH, 256], 'timing_signal'), g.ints([0]), seqLen, g.ints([0])]);
  let x = g.node('Add', [g.node('Add', [embedded, embedded]), signal]);

  const bias = g.node('Unsqueeze', [g.node('Mul', [g.node('Sub', [s(1), mask]), s(paddingBias)]), g.ints([1, 2])]);
  const layerNorm = (input: string, prefix: string, width: number) =>
    g.node(
      'LayerNormalization',
      [input, w(`${prefix}/layer_norm/layer_norm_scale/ConcatPartitions/concat`, [width]), w(`${prefix}/layer_norm/layer_norm_bias/ConcatPartitions/concat`, [width])],
      { axis: -1, epsilon: { float: layerNormEps } },
    );
  const dense = (input: string, kernel: string, biasName: string, rows: number, cols: number) =>
    g.node('Add', [g.node('MatMul', [input, w(kernel, [rows, cols])]), w(biasName)]);

  const layers = [
    { index: 0, width: 256, out: 512, heads: 4 },
    { index: 1, width: 512, out: 512, heads: 4 },
  ];
  for (const { index, width, out, heads } of layers) {
    const layer = `${ENCODE}/Layer_${index}/TransformerLayer`;
    const stack = `${ENCODE}/TransformerStack/Layer_${index}/TransformerLayer`;
    const headDim = width / heads;
    const normed = layerNorm(x, `${layer}/layer_prepostprocess`, width);
    const qkv = dense(
      normed,
      `module/${layer}/MultiheadAttention/qkv_transform_single/kernel/part_0`,
      `${layer}/MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat`,
      width,
      3 * width,
    );
    const [q, k, v] = g.nodeN('Split', [qkv, g.ints([width, width, width])], 3, { axis: -1 });
    const heads4 = (t: string, perm: number[]) => g.node('Transpose', [g.node('Reshape', [t, g.ints([0, 0, heads, headDim])])], { perm });
    const query = g.node('Mul', [heads4(q!, [0, 2, 1, 3]), s(scalar(weights, `${stack}/MultiheadAttention/mul/y`))]);
    const logits = g.node('Add', [g.node('MatMul', [query, heads4(k!, [0, 2, 3, 1])]), bias]);
    const context = g.node('MatMul', [g.node('Softmax', [logits], { axis: -1 }), heads4(v!, [0, 2, 1, 3])]);
    const merged = g.node('Reshape', [g.node('Transpose', [context], { perm: [0, 2, 1, 3] }), g.ints([0, 0, width])]);
    const attended = dense(
      merged,
      `module/${layer}/MultiheadAttention/output_transform_single/kernel/part_0`,
      `${layer}/MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat`,
      width,
      out,
    );
    const residual = width === out ? x : dense(x, `${layer}/dense/kernel/ConcatPartitions/concat`, `${layer}/dense/bias/ConcatPartitions/concat`, width, out);
    x = g.node('Add', [attended, residual]);

    const ffnIn = layerNorm(x, `${layer}/FFN/layer_prepostprocess`, out);
    const hidden = g.node('Relu', [dense(ffnIn, `${stack}/FFN/conv1/Tensordot/Reshape_1`, `${layer}/FFN/conv1/bias/ConcatPartitions/concat`, out, 1536)]);
    x = g.node('Add', [x, dense(hidden, `${stack}/FFN/conv2/Tensordot/Reshape_1`, `${layer}/FFN/conv2/bias/ConcatPartitions/concat`, 1536, out)]);
  }

  // Masked mean over real tokens (an empty input divides by 1, not 0).
  const mask3 = g.node('Unsqueeze', [mask, g.ints([2])]);
  const summed = g.node('ReduceSum', [g.node('Mul', [x, mask3]), g.ints([1])], { keepdims: 0 });
  const count = g.node('Max', [g.node('ReduceSum', [mask3, g.ints([1])], { keepdims: 0 }), s(1)]);
  const pooled = g.node('Div', [summed, count]);
  const hiddenOut = g.node('Tanh', [dense(pooled, 'hidden_layers/tanh_layer_0/weights', 'hidden_layers/tanh_layer_0/bias', 512, 512)]);
  const sumSquares = g.node('ReduceSum', [g.node('Mul', [hiddenOut, hiddenOut]), g.ints([1])], { keepdims: 1 });
  const normalized = g.node('Mul', [hiddenOut, g.node('Reciprocal', [g.node('Sqrt', [g.node('Max', [sumSquares, s(l2Eps)])])])]);
  g.output(normalized, 'float32', ['batch_size', 512], 'sentence_embedding');
  return g.toBytes();
}

/** The [MAX_LENGTH, 256] table concat(sin(p * f), cos(p * f)) for positions p, in float32 as TF computes it. */
function timingSignal(inverseTimescales: Float32Array): Float32Array {
  const half = inverseTimescales.length;
  const table = new Float32Array(MAX_LENGTH * half * 2);
  for (let p = 0; p < MAX_LENGTH; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * inverseTimescales[i]!);
      table[p * 2 * half + i] = Math.sin(angle);
      table[p * 2 * half + half + i] = Math.cos(angle);
    }
  }
  return table;
}
