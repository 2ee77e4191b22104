import { GraphBuilder } from './GraphBuilder.js';
import { Rng } from './random.js';

/** The fields of a Hugging Face BERT `config.json` that decide the graph. */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  max_position_embeddings: number;
  type_vocab_size?: number;
  layer_norm_eps?: number;
}

export interface RandomBertOptions {
  /** Seed of the weight generator; the same seed gives the same bytes. @default 1 */
  seed?: number;
  /** Standard deviation of the weights (BERT's initializer range). @default 0.02 */
  std?: number;
}

/**
 * Builds a BERT encoder with random weights, shaped like an optimum / transformers.js
 * export: inputs `input_ids`, `attention_mask`, `token_type_ids` (int64 [batch, sequence]),
 * output `last_hidden_state` (float32 [batch, sequence, hidden]). The node pattern follows
 * what `torch.onnx.export` writes for BERT (Erf GELU, LayerNormalization, additive mask
 * at the float32 minimum), so onnxruntime optimizes it as it would a real export and the
 * cost per token is the real model's.
 */
export function buildRandomBert(config: BertConfig, options: RandomBertOptions = {}): Uint8Array {
  const rng = new Rng(options.seed ?? 1);
  const std = options.std ?? 0.02;
  const H = config.hidden_size;
  const heads = config.num_attention_heads;
  if (H % heads !== 0) throw new RangeError(`hidden_size ${H} is not divisible by num_attention_heads ${heads}`);
  const headDim = H / heads;
  const eps = config.layer_norm_eps ?? 1e-12;
  const g = new GraphBuilder({ name: 'bert' });

  const weight = (rows: number, cols: number, hint: string) => g.floats(rng.normal(rows * cols, std), [rows, cols], hint);
  const vector = (n: number, hint: string, fill?: number) =>
    g.floats(fill === undefined ? rng.normal(n, std) : new Float32Array(n).fill(fill), [n], hint);
  const linear = (x: string, inDim: number, outDim: number, hint: string) =>
    g.node('Add', [g.node('MatMul', [x, weight(inDim, outDim, `${hint}_w`)]), vector(outDim, `${hint}_b`)]);
  const layerNorm = (x: string, hint: string) =>
    g.node('LayerNormalization', [x, vector(H, `${hint}_gamma`, 1), vector(H, `${hint}_beta`, 0)], {
      axis: -1,
      epsilon: { float: eps },
    });
  const scalar = (v: number) => g.floats([v], [], 'scalar');

  const inputIds = g.input('input_ids', 'int64', ['batch_size', 'sequence_length']);
  const attentionMask = g.input('attention_mask', 'int64', ['batch_size', 'sequence_length']);
  const tokenTypeIds = g.input('token_type_ids', 'int64', ['batch_size', 'sequence_length']);

  // Embeddings: word + token type + absolute position, then LayerNorm.
  const seqLen = g.node('Unsqueeze', [g.node('Gather', [g.node('Shape', [inputIds]), g.ints([1], [])], { axis: 0 }), g.ints([0])]);
  const positions = g.node('Slice', [
    g.floats(rng.normal(config.max_position_embeddings * H, std), [config.max_position_embeddings, H], 'position_embeddings'),
    g.ints([0]),
    seqLen,
    g.ints([0]),
  ]);
  const words = g.node('Gather', [g.floats(rng.normal(config.vocab_size * H, std), [config.vocab_size, H], 'word_embeddings'), inputIds]);
  const types = g.node('Gather', [
    g.floats(rng.normal((config.type_vocab_size ?? 2) * H, std), [config.type_vocab_size ?? 2, H], 'token_type_embeddings'),
    tokenTypeIds,
  ]);
  let hidden = layerNorm(g.node('Add', [g.node('Add', [words, types]), positions]), 'embeddings_ln');

  // Additive attention bias [batch, 1, 1, sequence]: 0 where attended, float32 min where padded.
  const maskF = g.node('Unsqueeze', [g.node('Cast', [attentionMask], { to: 1 }), g.ints([1, 2])]);
  const maskBias = g.node('Mul', [g.node('Sub', [scalar(1), maskF]), scalar(-3.4028234663852886e38)]);
  const splitHeads = g.ints([0, 0, heads, headDim]);
  const mergeHeads = g.ints([0, 0, H]);

  for (let layer = 0; layer < config.num_hidden_layers; layer++) {
    const p = `layer${layer}`;
    const project = (hint: string, perm: number[]) =>
      g.node('Transpose', [g.node('Reshape', [linear(hidden, H, H, `${p}_${hint}`), splitHeads])], { perm });
    const q = project('query', [0, 2, 1, 3]);
    const k = project('key', [0, 2, 3, 1]);
    const v = project('value', [0, 2, 1, 3]);
    const scores = g.node('Add', [g.node('Div', [g.node('MatMul', [q, k]), scalar(Math.sqrt(headDim))]), maskBias]);
    const context = g.node('MatMul', [g.node('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.node('Reshape', [g.node('Transpose', [context], { perm: [0, 2, 1, 3] }), mergeHeads]);
    const attended = layerNorm(g.node('Add', [linear(merged, H, H, `${p}_attn_out`), hidden]), `${p}_attn_ln`);
    const up = linear(attended, H, config.intermediate_size, `${p}_ffn_up`);
    const gelu = g.node('Mul', [
      g.node('Mul', [up, scalar(0.5)]),
      g.node('Add', [scalar(1), g.node('Erf', [g.node('Div', [up, scalar(Math.SQRT2)])])]),
    ]);
    const down = linear(gelu, config.intermediate_size, H, `${p}_ffn_down`);
    hidden = layerNorm(g.node('Add', [down, attended]), `${p}_ffn_ln`);
  }
  g.output(hidden, 'float32', ['batch_size', 'sequence_length', H], 'last_hidden_state');
  return g.toBytes();
}
