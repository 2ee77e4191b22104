import { attr, DataType, type NodeProto, type OnnxGraph } from './OnnxGraph.js';
import type { Matcher } from './fuseMatch.js';

/** `x · W (+ b)` with W a constant [in, out]: the projections attention reads. */
interface Projection {
  x: string;
  matmul: NodeProto;
  bias?: string;
  width: number;
}

/** Where Q, K and V come from: three projections, or one packed projection cut by a Split. */
type QkvSource =
  | { kind: 'separate'; q: Projection; k: Projection; v: Projection }
  | { kind: 'packed'; projection: Projection; split: NodeProto; offsets: [number, number, number] };

/** One self-attention block found in the graph, from the Q/K/V projections to the merged heads. */
export interface AttentionMatch {
  source: QkvSource;
  heads: number;
  qkWidth: number;
  vWidth: number;
  scale: number;
  /** The 0/1 key padding mask [batch, keys] the additive bias was computed from, and the value added at padded keys. */
  mask?: { source: string; fill: number };
  /** The Reshape merging the heads back to [batch, sequence, width]; the fused node takes over its output. */
  merge: NodeProto;
}

const BHSD = [0, 2, 1, 3];
const BOOL = 9;

/**
 * Matches the attention that torch.onnx.export writes for BERT and the USE lite graph writes:
 * Q/K/V projections (separate, or one packed MatMul cut by Split), Reshape to heads and
 * Transpose, MatMul of Q and K^T scaled by constants (Div by sqrt(d), Mul by 1/sqrt(d), on the
 * scores or on Q/K), an optional additive key padding bias, Softmax over keys, MatMul with V,
 * Transpose and Reshape back. Every intermediate value must have no other reader, so the fused
 * node replaces all of it. Returns undefined for anything else.
 */
export function matchAttention(m: Matcher, softmax: NodeProto): AttentionMatch | undefined {
  const axis = m.int(softmax, 'axis', m.opset >= 13 ? -1 : 1);
  if (axis !== -1 && axis !== 3) return undefined;
  const context = m.next(softmax.output?.[0], 'MatMul');
  if (!context || context.input?.[0] !== softmax.output?.[0]) return undefined;
  const mergeTranspose = m.next(context.output?.[0], 'Transpose');
  if (!m.isTranspose(mergeTranspose, BHSD)) return undefined;
  const merge = m.next(mergeTranspose.output?.[0], 'Reshape');
  if (!merge) return undefined;

  let scores = softmax.input?.[0];
  if (!m.single(scores)) return undefined;
  let mask: AttentionMatch['mask'];
  const maskAdd = m.from(scores, 'Add');
  if (maskAdd) {
    const [a, b] = maskAdd.input ?? [];
    mask = traceMask(m, b);
    scores = mask ? a : b;
    mask ??= traceMask(m, a);
    if (!mask) return undefined;
  }
  const scaledScores = unscale(m, scores);
  const qk = scaledScores && m.from(scaledScores.value, 'MatMul');
  const scaledQ = qk && unscale(m, qk.input?.[0]);
  const scaledK = qk && unscale(m, qk.input?.[1]);
  if (!scaledQ || !scaledK) return undefined;
  const q = heads(m, scaledQ.value, BHSD);
  const k = heads(m, scaledK.value, [0, 2, 3, 1]) ?? transposedKey(m, scaledK.value);
  const v = heads(m, context.input?.[1], BHSD);
  if (!q || !k || !v || q.heads !== k.heads || q.heads !== v.heads || q.headSize !== k.headSize) return undefined;
  const qkWidth = q.heads * q.headSize;
  const vWidth = v.heads * v.headSize;
  if (!mergesTo(m, merge.input?.[1], vWidth)) return undefined;

  const source = qkvSource(m, q.value, k.value, v.value, [qkWidth, qkWidth, vWidth]);
  if (!source) return undefined;
  return { source, heads: q.heads, qkWidth, vWidth, scale: scaledScores.scale * scaledQ.scale * scaledK.scale, mask, merge };
}

/** Strips Mul/Div by float constants off `value`, multiplying up the scale they apply. */
function unscale(m: Matcher, value: string | null | undefined): { value: string; scale: number } | undefined {
  let scale = 1;
  for (;;) {
    if (!value || !m.single(value)) return undefined;
    const node = m.from(value, 'Mul') ?? m.from(value, 'Div');
    if (!node) return { value, scale };
    const [a, b] = node.input ?? [];
    const cb = m.scalar(b);
    const ca = node.opType === 'Mul' ? m.scalar(a) : undefined;
    if (cb !== undefined) {
      scale *= node.opType === 'Mul' ? cb : 1 / cb;
      value = a;
    } else if (ca !== undefined) {
      scale *= ca;
      value = b;
    } else return undefined;
  }
}

/** `Transpose(Reshape(x, [*, *, heads, headSize]), perm)`: x split into heads. */
function heads(m: Matcher, value: string | null | undefined, perm: number[]): { value: string; heads: number; headSize: number } | undefined {
  if (!m.single(value)) return undefined;
  const transpose = m.from(value, 'Transpose');
  if (!m.isTranspose(transpose, perm)) return undefined;
  const reshape = m.single(transpose.input?.[0]) ? m.from(transpose.input?.[0], 'Reshape') : undefined;
  const x = reshape?.input?.[0];
  const shape = reshape && headShape(m, reshape.input?.[1]);
  if (!x || !shape || !m.single(x)) return undefined;
  return { value: x, heads: shape[0], headSize: shape[1] };
}

/** K^T written as two transposes: heads first, then the last two axes swapped. */
function transposedKey(m: Matcher, value: string): ReturnType<typeof heads> {
  const swap = m.from(value, 'Transpose');
  return m.isTranspose(swap, [0, 1, 3, 2]) ? heads(m, swap.input?.[0], BHSD) : undefined;
}

/** [heads, headSize] from a head-splitting shape: a constant [*, *, N, H], or Concat(*, *, [N], [H]) as dynamic-shape exports write it. */
function headShape(m: Matcher, shape: string | null | undefined): [number, number] | undefined {
  let dims = m.ints(shape);
  if (!dims) {
    const concat = m.from(shape, 'Concat');
    if (concat?.input?.length !== 4) return undefined;
    const n = m.ints(concat.input[2]);
    const h = m.ints(concat.input[3]);
    if (n?.length !== 1 || h?.length !== 1) return undefined;
    dims = [0, 0, n[0]!, h[0]!];
  }
  return dims.length === 4 && dims[2]! > 0 && dims[3]! > 0 ? [dims[2]!, dims[3]!] : undefined;
}

/** The heads-merging shape: [*, *, width] (or -1 last), constant or a Concat ending in a constant. */
function mergesTo(m: Matcher, shape: string | null | undefined, width: number): boolean {
  const dims = m.ints(shape);
  if (dims) return dims.length === 3 && (dims[2] === width || dims[2] === -1);
  const concat = m.from(shape, 'Concat');
  const last = concat?.input?.length === 3 ? m.ints(concat.input[2]) : undefined;
  return last?.length === 1 && last[0] === width;
}

function projection(m: Matcher, value: string): Projection | undefined {
  let out = value;
  let bias: string | undefined;
  const add = m.from(value, 'Add');
  if (add) {
    const [a, b] = add.input ?? [];
    bias = m.floatInitializer(b, 1) ? b! : m.floatInitializer(a, 1) ? a! : undefined;
    out = (bias === b ? a : b) ?? '';
    if (!bias || !m.single(out)) return undefined;
  }
  const matmul = m.from(out, 'MatMul');
  const w = matmul && m.floatInitializer(matmul.input?.[1], 2);
  if (!matmul || !w || !matmul.input?.[0]) return undefined;
  if (bias && m.graph.dims(bias)![0] !== w[1]) return undefined;
  return { x: matmul.input[0], matmul, bias, width: w[1]! };
}

function qkvSource(m: Matcher, q: string, k: string, v: string, widths: [number, number, number]): QkvSource | undefined {
  const split = m.from(q, 'Split');
  if (split && m.from(k, 'Split') === split && m.from(v, 'Split') === split) {
    const outputs = split.output ?? [];
    const packed = split.input?.[0];
    const p = packed && m.single(packed) ? projection(m, packed) : undefined;
    if (!p || outputs.length !== 3 || !m.extraOutputsUnused(split, 3)) return undefined;
    const axis = m.int(split, 'axis', 0);
    if (axis !== -1 && axis !== 2) return undefined;
    const sizes = (split.input?.[1] ? m.ints(split.input[1]) : splitAttribute(split)) ?? [p.width / 3, p.width / 3, p.width / 3];
    const starts = sizes.map((_, i) => sizes.slice(0, i).reduce((a, b) => a + b, 0));
    const index = [outputs.indexOf(q), outputs.indexOf(k), outputs.indexOf(v)];
    if (sizes.length !== 3 || sizes.reduce((a, b) => a + b, 0) !== p.width || index.some((i, role) => i < 0 || sizes[i] !== widths[role])) return undefined;
    return { kind: 'packed', projection: p, split, offsets: index.map((i) => starts[i]!) as [number, number, number] };
  }
  const [pq, pk, pv] = [q, k, v].map((x) => projection(m, x));
  if (!pq || !pk || !pv || pq.width !== widths[0] || pk.width !== widths[1] || pv.width !== widths[2]) return undefined;
  return { kind: 'separate', q: pq, k: pk, v: pv };
}

function splitAttribute(split: NodeProto): number[] | undefined {
  const a = split.attribute?.find((x) => x.name === 'split');
  return a ? (a.ints ?? []).map(Number) : undefined;
}

/**
 * Follows an additive attention bias back to the 0/1 mask it was computed from, accepting
 * the forms exporters write: `(1 - float(mask)) * c` or `Where(bool(1 - float(mask)), c, 1 - float(mask))`,
 * with Unsqueeze/Expand anywhere, ending as [batch, 1, 1, keys]. Any other bias (relative
 * positions, causal masks) does not match, and the attention stays unfused.
 */
export function traceMask(m: Matcher, value: string | null | undefined): { source: string; fill: number } | undefined {
  const axes: number[][] = [];
  // Unsqueeze and Expand only broadcast the mask; the Unsqueeze axes are replayed at the end.
  const through = (v: string | null | undefined): string | undefined => {
    for (;;) {
      const unsqueeze = m.from(v, 'Unsqueeze');
      if (unsqueeze) {
        const a = m.unsqueezeAxes(unsqueeze);
        if (!a) return undefined;
        axes.push(a);
        v = unsqueeze.input?.[0];
        continue;
      }
      const expand = m.from(v, 'Expand');
      if (!expand) return v ?? undefined;
      v = expand.input?.[0];
    }
  };
  const biasValue = through(value);
  const mul = m.from(biasValue, 'Mul');
  const where = m.from(biasValue, 'Where');
  let fill: number | undefined;
  let inverted: string | null | undefined;
  if (mul) {
    const [a, b] = mul.input ?? [];
    fill = m.scalar(b) ?? m.scalar(a);
    inverted = m.scalar(b) !== undefined ? a : b;
  } else if (where) {
    const [condition, c, otherwise] = where.input ?? [];
    const cast = m.from(condition, 'Cast');
    if (!cast || cast.input?.[0] !== otherwise || m.int(cast, 'to', 0) !== BOOL) return undefined;
    fill = m.scalar(c);
    inverted = otherwise;
  }
  if (fill === undefined || !(fill < 0) || !Number.isFinite(fill)) return undefined;
  const sub = m.from(through(inverted), 'Sub');
  if (!sub || m.scalar(sub.input?.[0]) !== 1) return undefined;
  const cast = m.from(through(sub.input?.[1]), 'Cast');
  if (!cast || m.int(cast, 'to', 0) !== DataType.FLOAT) return undefined;
  const source = through(cast.input?.[0]);
  const rank = source && m.inputRank(source);
  if (!source || (rank !== undefined && rank !== 2)) return undefined;
  // Replay the Unsqueezes from the mask outwards: [batch, keys] must end as [batch, 1, 1, keys].
  let dims: (number | string)[] = ['batch', 'keys'];
  for (const a of axes.reverse()) {
    const rankOut = dims.length + a.length;
    const at = new Set(a.map((x) => (x < 0 ? x + rankOut : x)));
    const next: (number | string)[] = [];
    for (let i = 0, j = 0; i < rankOut; i++) next.push(at.has(i) ? 1 : dims[j++]!);
    dims = next;
  }
  return dims.join() === 'batch,1,1,keys' ? { source, fill } : undefined;
}

/** Settings for {@link rewriteAttention}. */
export interface AttentionRewrite {
  /** Emit MultiHeadAttention after plain MatMuls (quantizable) rather than Attention holding the weights. */
  keepWeightMatMuls: boolean;
  /** Pack separate Q/K/V projections into one MatMul and a Split. */
  packQkv: boolean;
  /** The int32 mask for each mask source, made once per graph. */
  masks: Map<string, string>;
}

/** Replaces a matched attention block with one com.microsoft Attention or MultiHeadAttention node. */
export function rewriteAttention(graph: OnnxGraph, match: AttentionMatch, settings: AttentionRewrite): void {
  const added: NodeProto[] = [];
  let mask = '';
  if (match.mask) {
    const source = match.mask.source;
    mask = settings.masks.get(source) ?? '';
    if (!mask) {
      mask = graph.freshName('key_padding_mask_int32');
      added.push(graph.node('Cast', [source], [mask], [attr.int('to', DataType.INT32)]));
      settings.masks.set(source, mask);
    }
  }
  const { source } = match;
  const widths = [match.qkWidth, match.qkWidth, match.vWidth];
  const projections = source.kind === 'separate' ? [source.q, source.k, source.v] : [source.projection, source.projection, source.projection];
  const offsets = source.kind === 'separate' ? [0, 0, 0] : source.offsets;
  const bias = projections.some((p) => p.bias) ? concatBias(graph, projections, offsets, widths) : undefined;
  const attributes = [attr.int('num_heads', match.heads), attr.float('scale', match.scale)];
  if (match.mask) attributes.push(attr.float('mask_filter_value', match.mask.fill));
  const output = match.merge.output![0]!;
  const sameInput = projections.every((p) => p.x === projections[0]!.x);

  if (!settings.keepWeightMatMuls && sameInput) {
    const weight = graph.addInitializer('qkv_weight', concatWeights(graph, projections, offsets, widths), [rowsOf(graph, projections[0]!), widths[0]! * 2 + widths[2]!]);
    const b = bias ?? graph.addInitializer('qkv_bias', new Float32Array(widths[0]! * 2 + widths[2]!), [widths[0]! * 2 + widths[2]!]);
    if (match.vWidth !== match.qkWidth) attributes.push(attr.ints('qkv_hidden_sizes', widths));
    added.push(graph.node('Attention', trim([projections[0]!.x, weight, b, mask]), [output], attributes, 'com.microsoft'));
  } else {
    let qkv: string[];
    if (source.kind === 'packed') {
      qkv = reuseSplit(graph, source, added);
    } else if (settings.packQkv && sameInput) {
      const weight = graph.addInitializer('qkv_weight', concatWeights(graph, projections, offsets, widths), [rowsOf(graph, projections[0]!), widths[0]! * 2 + widths[2]!]);
      const packed = graph.freshName('qkv');
      added.push(graph.node('MatMul', [projections[0]!.x, weight], [packed]));
      qkv = split(graph, packed, widths, added);
    } else {
      qkv = projections.map((p) => p.matmul.output![0]!);
    }
    added.push(graph.node('MultiHeadAttention', trim([...qkv, bias ?? '', mask]), [output], attributes, 'com.microsoft'));
  }
  graph.nodes = graph.nodes.filter((n) => n !== match.merge);
  graph.nodes.push(...added);
}

function trim(inputs: string[]): string[] {
  while (inputs.length && !inputs[inputs.length - 1]) inputs.pop();
  return inputs;
}

function rowsOf(graph: OnnxGraph, p: Projection): number {
  return graph.dims(p.matmul.input![1]!)![0]!;
}

/** Q, K, V weight columns side by side: [in, q | k | v]. */
function concatWeights(graph: OnnxGraph, projections: Projection[], offsets: number[], widths: number[]): Float32Array {
  const rows = rowsOf(graph, projections[0]!);
  const total = widths.reduce((a, b) => a + b, 0);
  const out = new Float32Array(rows * total);
  let column = 0;
  projections.forEach((p, role) => {
    const w = graph.floats(p.matmul.input![1]!)!;
    const cols = p.width;
    for (let r = 0; r < rows; r++) out.set(w.subarray(r * cols + offsets[role]!, r * cols + offsets[role]! + widths[role]!), r * total + column);
    column += widths[role]!;
  });
  return out;
}

/** The Q, K, V biases as MultiHeadAttention and Attention take them: one vector, zeros where a projection had none. */
function concatBias(graph: OnnxGraph, projections: Projection[], offsets: number[], widths: number[]): string {
  const out = new Float32Array(widths.reduce((a, b) => a + b, 0));
  let at = 0;
  projections.forEach((p, role) => {
    const b = p.bias ? graph.floats(p.bias)! : undefined;
    if (b) out.set(b.subarray(offsets[role]!, offsets[role]! + widths[role]!), at);
    at += widths[role]!;
  });
  return graph.addInitializer('qkv_bias', out, [out.length]);
}

/** The graph's own Split, now cutting the MatMul output (its bias moves into the attention node). */
function reuseSplit(graph: OnnxGraph, source: Extract<QkvSource, { kind: 'packed' }>, added: NodeProto[]): string[] {
  const outputs = source.split.output!.map(() => graph.freshName('qkv_part'));
  const inputs = [source.projection.matmul.output![0]!, ...source.split.input!.slice(1)];
  added.push({ ...graph.node('Split', inputs, outputs), attribute: source.split.attribute ?? [] });
  const order = [0, 1, 2].sort((a, b) => source.offsets[a]! - source.offsets[b]!);
  const roles: string[] = [];
  order.forEach((role, i) => (roles[role] = outputs[i]!));
  return roles;
}

function split(graph: OnnxGraph, value: string, widths: number[], added: NodeProto[]): string[] {
  const outputs = widths.map(() => graph.freshName('qkv_part'));
  const opset = Number(graph.model.opsetImport?.find((o) => (o.domain ?? '') === '')?.version ?? 13);
  if (opset >= 13) added.push(graph.node('Split', [value, graph.addInitializer('qkv_split', BigInt64Array.from(widths.map(BigInt)), [3])], outputs, [attr.int('axis', -1)]));
  else added.push(graph.node('Split', [value], outputs, [attr.int('axis', -1), attr.ints('split', widths)]));
  return outputs;
}
