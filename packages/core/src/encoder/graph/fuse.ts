import { matchAttention, rewriteAttention, type AttentionMatch } from './fuseAttention.js';
import { Matcher } from './fuseMatch.js';
import { matchSkipLayerNorm, rewriteSkipLayerNorm, type SkipLayerNormMatch } from './fuseSkipLayerNorm.js';
import type { NodeProto, OnnxGraph } from './OnnxGraph.js';

/**
 * What {@link fuseTransformer} rewrites. The speed notes are onnxruntime-node 1.30 on the CPU,
 * one thread, process CPU time of interleaved runs (bench/scratch, 2-core shared machine),
 * batches of 16-32 rows of 10-60 tokens unless said otherwise.
 */
export interface FuseOptions {
  /**
   * Fuse each self-attention block (head reshapes and transposes, scaled Q·K^T, padding
   * mask, Softmax, ·V, merge) into one com.microsoft node.
   * @default true
   */
  attention?: boolean;
  /**
   * Keep the Q/K/V projections as plain MatMuls with constant weights in front of
   * MultiHeadAttention, so dynamic int8 quantization still finds them. `false` emits
   * com.microsoft Attention, which holds the Q/K/V weights itself and also does their GEMM
   * straight into the per-head layout (the inputs must be one shared x).
   *
   * Measured: Attention 1.00-1.02x of the unfused graph at 10-60 tokens and 1.03-1.05x at
   * 80-256 tokens (MiniLM, gte-small, USE lite); MultiHeadAttention 0.96-0.99x at 10-60
   * tokens, 1.00-1.03x at 80-256, and 0.94x after int8 quantization.
   * @default true
   */
  keepWeightMatMuls?: boolean;
  /**
   * With `keepWeightMatMuls`, replace separate Q, K and V projections of one input by one
   * MatMul of the packed [in, 3·width] weight and a Split: one GEMM and, after int8
   * quantization, one activation quantization instead of three. Off by default: the Split's
   * copy ate the gain (0.98x of three MatMuls in fp32 and int8 on MiniLM).
   * @default false
   */
  packQkv?: boolean;
  /**
   * Fuse residual Add + projection bias + LayerNormalization into com.microsoft
   * SkipLayerNormalization. Off by default: onnxruntime-node 1.30's CPU kernel for it is
   * 2.5-4x slower than the Add, Add and LayerNormalization it replaces (on [32, 60, 384]),
   * 0.92-0.95x end to end on MiniLM, gte-small and USE lite. For GPU providers, whose kernel
   * for it is the fast path.
   * @default false
   */
  skipLayerNorm?: boolean;
}

/** How many blocks {@link fuseTransformer} fused; what did not match is left as it was. */
export interface FuseReport {
  attention: number;
  skipLayerNorm: number;
}

/**
 * Rewrites a transformer encoder graph, in place, into onnxruntime's fused contrib operators
 * where its online optimizer leaves the exported pattern alone. With graphOptimizationLevel
 * 'all' it fuses BiasGelu and FusedMatMul (Q·K^T with the scale) in these BERT exports and
 * the USE lite graph, but leaves attention unfused, and Add + LayerNormalization too (it
 * fuses those into SkipLayerNormalization only where it can prove both shapes equal, as in a
 * standalone graph with declared input shapes).
 *
 * - **Attention** becomes MultiHeadAttention, or Attention (see `keepWeightMatMuls`): head
 *   reshapes and transposes, scale, additive mask and Softmax run inside one kernel instead
 *   of separate passes over [batch, heads, sequence, sequence] and [batch, sequence, hidden].
 *   The additive padding bias is traced back to the 0/1 mask it came from and passed as an
 *   int32 key padding mask (one Cast per graph), with the graph's own fill value, so padded
 *   keys get exactly the logit they got before.
 * - **SkipLayerNormalization** (opt-in) replaces residual Add, the projection's bias Add and
 *   LayerNormalization; pre-norm graphs get the residual sum as its 4th output.
 *
 * Anything that does not match exactly stays as it was: other mask forms (causal, relative
 * position), attention whose intermediate values are read elsewhere, LayerNorms without a
 * projection feeding them (the embedding sum). The FFN GELU is left to onnxruntime, which
 * still fuses it into BiasGelu after this rewrite.
 *
 * When something was fused, ends with `graph.finish()` (dead nodes dropped, nodes sorted);
 * when nothing matched the graph is not touched at all.
 *
 * @example
 * const graph = await OnnxGraph.read('model.onnx');
 * const report = fuseTransformer(graph, { keepWeightMatMuls: false }); // { attention: 6, skipLayerNorm: 0 } for MiniLM-L6
 * await writeFile('model.fused.onnx', graph.encode());
 */
export function fuseTransformer(graph: OnnxGraph, options: FuseOptions = {}): FuseReport {
  const report: FuseReport = { attention: 0, skipLayerNorm: 0 };
  if (options.attention ?? true) {
    const m = new Matcher(graph);
    const matches = graph.nodes
      .filter((n) => n.opType === 'Softmax' && (n.domain ?? '') === '')
      .map((n) => matchAttention(m, n))
      .filter((x): x is AttentionMatch => x !== undefined);
    const settings = { keepWeightMatMuls: options.keepWeightMatMuls ?? true, packQkv: options.packQkv ?? false, masks: new Map<string, string>() };
    for (const match of matches) rewriteAttention(graph, match, settings);
    report.attention = matches.length;
  }
  if (options.skipLayerNorm ?? false) {
    const m = new Matcher(graph);
    const claimed = new Set<NodeProto>();
    const matches: SkipLayerNormMatch[] = [];
    for (const node of graph.nodes) {
      if (node.opType !== 'LayerNormalization' || (node.domain ?? '') !== '') continue;
      const match = matchSkipLayerNorm(m, node);
      const nodes = match && [match.norm, match.sum, ...(match.biasAdd ? [match.biasAdd] : [])];
      if (!match || nodes!.some((n) => claimed.has(n))) continue;
      for (const n of nodes!) claimed.add(n);
      matches.push(match);
    }
    if (matches.length) {
      const removed = new Set(matches.flatMap((x) => [x.norm, x.sum]));
      const fused = matches.map((x) => rewriteSkipLayerNorm(graph, x));
      graph.nodes = [...graph.nodes.filter((n) => !removed.has(n)), ...fused];
    }
    report.skipLayerNorm = matches.length;
  }
  if (report.attention + report.skipLayerNorm > 0) {
    graph.useOpset('com.microsoft', 1);
    graph.finish();
  }
  return report;
}
