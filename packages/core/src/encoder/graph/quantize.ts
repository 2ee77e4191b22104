import { attribute, type NodeProto, type OnnxGraph } from './OnnxGraph.js';

export interface QuantizeOptions {
  /**
   * Quantize weights to 7 bits ([-63, 63]) instead of 8. x86 CPUs with AVX2 but without
   * VNNI multiply uint8 activations by int8 weights with an instruction that saturates at
   * 16 bits, which full-range weights can reach; 7-bit weights cannot. CPUs with VNNI
   * (AVX512-VNNI, AVX-VNNI) and ARM are exact either way, and full range keeps twice the
   * resolution. onnxruntime's `quantize_dynamic` has the same switch, off by default.
   * @default false
   */
  reduceRange?: boolean;
}

export interface QuantizeReport {
  /** MatMul and Gemm nodes now running as `DynamicQuantizeMatMul`. */
  quantized: number;
  /** Of those, how many took the following bias Add into the same node. */
  biasFused: number;
  /** Float32 weight bytes before, int8 weight bytes after (scales included). */
  weightBytes: { before: number; after: number };
}

/**
 * Dynamic int8 quantization, in place: every `MatMul` (and plain `Gemm`) whose second input
 * is a constant 2-D float32 matrix becomes onnxruntime's `com.microsoft.DynamicQuantizeMatMul`
 * with int8 weights, one symmetric scale per output column, and the activations quantized
 * to uint8 at run time, row batch by row batch. A bias `Add` that follows a MatMul goes into
 * the same node. Per-column scales keep a column of small weights from losing its
 * resolution to the largest weight of the matrix, which matters for encoders whose columns
 * differ in scale by an order of magnitude. Everything else (embeddings, LayerNorm,
 * softmax, attention between activations) stays in float32.
 *
 * Call `graph.finish()` afterwards.
 */
export function quantizeDynamic(graph: OnnxGraph, options: QuantizeOptions = {}): QuantizeReport {
  const qmax = options.reduceRange ? 63 : 127;
  const consumers = graph.consumers();
  const outputs = new Set(graph.outputNames);
  const removed = new Set<NodeProto>();
  const report: QuantizeReport = { quantized: 0, biasFused: 0, weightBytes: { before: 0, after: 0 } };
  const nodes: NodeProto[] = [];

  for (const node of graph.nodes) {
    if (removed.has(node)) continue;
    const weight = weightOf(graph, node);
    if (!weight) {
      nodes.push(node);
      continue;
    }
    const { k, n, values } = weight;
    const scale = new Float32Array(n);
    for (let r = 0; r < k; r++) {
      for (let c = 0; c < n; c++) scale[c] = Math.max(scale[c]!, Math.abs(values[r * n + c]!));
    }
    for (let c = 0; c < n; c++) scale[c] = scale[c]! > 0 ? scale[c]! / qmax : 1;
    const q = new Int8Array(k * n);
    for (let r = 0; r < k; r++) {
      for (let c = 0; c < n; c++) q[r * n + c] = Math.max(-qmax, Math.min(qmax, Math.round(values[r * n + c]! / scale[c]!)));
    }
    const hint = `${node.input![1]}_int8`;
    const inputs = [node.input![0]!, graph.addInitializer(hint, q, [k, n]), graph.addInitializer(`${hint}_scale`, scale, [n]), graph.addInitializer(`${hint}_zero_point`, new Int8Array(n), [n])];
    let output = node.output![0]!;
    let bias = weight.bias;
    if (bias === undefined && node.opType === 'MatMul' && !outputs.has(output)) {
      const readers = consumers.get(output) ?? [];
      const add = readers.length === 1 && readers[0]!.opType === 'Add' && (readers[0]!.domain ?? '') === '' ? readers[0]! : undefined;
      const other = add ? add.input!.find((i) => i !== output) : undefined;
      if (add && other && add.input!.length === 2 && graph.dims(other)?.length === 1 && graph.dims(other)![0] === n && graph.floats(other)) {
        bias = other;
        output = add.output![0]!;
        removed.add(add);
        report.biasFused++;
      }
    }
    if (bias !== undefined) inputs.push(bias);
    nodes.push(graph.node('DynamicQuantizeMatMul', inputs, [output], [], 'com.microsoft'));
    report.quantized++;
    report.weightBytes.before += k * n * 4;
    report.weightBytes.after += k * n + n * 5;
  }
  if (report.quantized > 0) {
    graph.nodes = nodes.filter((node) => !removed.has(node));
    graph.useOpset('com.microsoft', 1);
  }
  return report;
}

/** The constant [K, N] weight a MatMul or plain Gemm multiplies by, row-major, with a Gemm's bias. */
function weightOf(graph: OnnxGraph, node: NodeProto): { k: number; n: number; values: Float32Array; bias?: string } | undefined {
  const domain = node.domain ?? '';
  if (domain !== '' || (node.opType !== 'MatMul' && node.opType !== 'Gemm')) return undefined;
  const name = node.input?.[1];
  const dims = name ? graph.dims(name) : undefined;
  const values = dims?.length === 2 ? graph.floats(name) : undefined;
  if (!dims || !values) return undefined;
  if (node.opType === 'MatMul') return { k: dims[0]!, n: dims[1]!, values };
  // Gemm: only Y = A B (+ C) with A untransposed and unit scales maps onto a MatMul.
  const alpha = attribute(node, 'alpha') ?? 1;
  const beta = attribute(node, 'beta') ?? 1;
  if (alpha !== 1 || beta !== 1 || (attribute(node, 'transA') ?? 0) !== 0) return undefined;
  const c = node.input?.[2];
  const n = attribute(node, 'transB') === 1 ? dims[0]! : dims[1]!;
  if (c && !(graph.dims(c)?.length === 1 && graph.dims(c)![0] === n && graph.floats(c))) return undefined;
  if (attribute(node, 'transB') === 1) {
    const k = dims[1]!;
    const t = new Float32Array(k * n);
    for (let r = 0; r < n; r++) for (let col = 0; col < k; col++) t[col * n + r] = values[r * k + col]!;
    return { k, n, values: t, ...(c ? { bias: c } : {}) };
  }
  return { k: dims[0]!, n: dims[1]!, values, ...(c ? { bias: c } : {}) };
}

