import { attr, attribute, type NodeProto, type OnnxGraph } from './OnnxGraph.js';
import type { Matcher } from './fuseMatch.js';

/** A residual Add (with the preceding projection's bias) feeding LayerNormalization. */
export interface SkipLayerNormMatch {
  norm: NodeProto;
  sum: NodeProto;
  /** The projection's MatMul output, without its bias. */
  input: string;
  skip: string;
  bias?: string;
  /** The Add that applied `bias`; it dies with the fusion. */
  biasAdd?: NodeProto;
  /** True when other nodes read the residual sum (pre-norm layers): the fused node then writes it as its 4th output. */
  sumRead: boolean;
}

/**
 * Matches `LayerNormalization(Add(projection, skip))` over the last axis, where projection is
 * `MatMul(x, W)` or `MatMul(x, W) + b` with W a constant [*, hidden]. Requiring a projection
 * on one side keeps the fusion to transformer residuals, whose two sides have the same
 * shape (SkipLayerNormalization only broadcasts `skip` over the batch); the embedding sum and
 * any Add without a projection stay as they are.
 */
export function matchSkipLayerNorm(m: Matcher, norm: NodeProto): SkipLayerNormMatch | undefined {
  if (m.int(norm, 'axis', -1) !== -1 || !m.extraOutputsUnused(norm, 1)) return undefined;
  const [x, gamma, beta] = norm.input ?? [];
  const hidden = m.floatInitializer(gamma, 1)?.[0];
  if (!hidden || (beta && m.floatInitializer(beta, 1)?.[0] !== hidden)) return undefined;
  const sum = m.from(x, 'Add');
  if (!sum) return undefined;
  const [a, b] = sum.input ?? [];
  for (const [side, skip] of [
    [a, b],
    [b, a],
  ]) {
    if (!side || !skip || m.constant(skip)) continue;
    const found = projected(m, side, hidden);
    if (found) return { norm, sum, skip, ...found, sumRead: m.readers(x!).length > 1 || m.graph.outputNames.includes(x!) };
  }
  return undefined;
}

function projected(m: Matcher, value: string, hidden: number): Pick<SkipLayerNormMatch, 'input' | 'bias' | 'biasAdd'> | undefined {
  const isProjection = (v: string | null | undefined) => {
    const matmul = m.from(v, 'MatMul');
    return m.floatInitializer(matmul?.input?.[1], 2)?.[1] === hidden;
  };
  if (!m.single(value)) return undefined;
  if (isProjection(value)) return { input: value };
  const biasAdd = m.from(value, 'Add');
  const [a, b] = biasAdd?.input ?? [];
  for (const [input, bias] of [
    [a, b],
    [b, a],
  ]) {
    if (m.floatInitializer(bias, 1)?.[0] === hidden && m.single(input) && isProjection(input)) return { input: input!, bias: bias!, biasAdd };
  }
  return undefined;
}

/** Replaces a match with one com.microsoft SkipLayerNormalization node. */
export function rewriteSkipLayerNorm(graph: OnnxGraph, match: SkipLayerNormMatch): NodeProto {
  const [, gamma, beta] = match.norm.input ?? [];
  const epsilon = attribute(match.norm, 'epsilon');
  const inputs = [match.input, match.skip, gamma!, beta ?? '', match.bias ?? ''];
  while (!inputs[inputs.length - 1]) inputs.pop();
  const outputs = [match.norm.output![0]!];
  if (match.sumRead) outputs.push('', '', match.sum.output![0]!);
  return graph.node('SkipLayerNormalization', inputs, outputs, [attr.float('epsilon', typeof epsilon === 'number' ? epsilon : 1e-5)], 'com.microsoft');
}
