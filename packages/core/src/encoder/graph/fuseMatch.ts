import { attribute, DataType, type NodeProto, type OnnxGraph, type TensorProto } from './OnnxGraph.js';

/** A constant tensor's element type, shape and values, from an initializer or a `Constant` node. */
export interface ConstantValue {
  dataType: number;
  dims: number[];
  values: number[];
}

/**
 * Read-only lookups over a graph as it stood when the matcher was made: who writes and who
 * reads each value, and constants whether they are initializers or `Constant` nodes
 * (torch.onnx.export writes small ones as nodes). Fusions match on one snapshot, then
 * rewrite; a rewrite never changes what a later match of the same pass reads.
 */
export class Matcher {
  readonly #producers: Map<string, NodeProto>;
  readonly #consumers: Map<string, NodeProto[]>;
  readonly #outputs: Set<string>;
  /** The default-domain operator set version, which decides attribute defaults (Softmax axis, Split sizes). */
  readonly opset: number;

  constructor(readonly graph: OnnxGraph) {
    this.#producers = graph.producers();
    this.#consumers = graph.consumers();
    this.#outputs = new Set(graph.outputNames);
    const imports = graph.model.opsetImport ?? [];
    this.opset = Number(imports.find((o) => (o.domain ?? '') === '' || o.domain === 'ai.onnx')?.version ?? 0);
  }

  /** The node writing `value` when it is a default-domain `opType` node. */
  from(value: string | null | undefined, opType: string): NodeProto | undefined {
    if (!value) return undefined;
    const node = this.#producers.get(value);
    return node?.opType === opType && (node.domain ?? '') === '' ? node : undefined;
  }

  /**
   * True when exactly one node reads `value` and it is no graph output: a fused node may
   * then swallow it without another reader losing it.
   */
  single(value: string | null | undefined): boolean {
    return !!value && (this.#consumers.get(value)?.length ?? 0) === 1 && !this.#outputs.has(value);
  }

  /** True when no node but the first `count` outputs' readers, and no graph output, needs the node's other outputs. */
  extraOutputsUnused(node: NodeProto, count: number): boolean {
    return (node.output ?? []).slice(count).every((o) => !o || (!this.#consumers.has(o) && !this.#outputs.has(o)));
  }

  /** Nodes reading `value`. */
  readers(value: string): NodeProto[] {
    return this.#consumers.get(value) ?? [];
  }

  /** The one node reading `value`, when nothing else (no graph output either) reads it and it is a default-domain `opType` node. */
  next(value: string | null | undefined, opType: string): NodeProto | undefined {
    if (!this.single(value)) return undefined;
    const node = this.#consumers.get(value!)![0]!;
    return node.opType === opType && (node.domain ?? '') === '' ? node : undefined;
  }

  /** The declared rank of a graph input, when the graph declares it. */
  inputRank(name: string): number | undefined {
    const input = this.graph.model.graph?.input?.find((v) => v.name === name);
    return input?.type?.tensorType?.shape?.dim?.length;
  }

  /** A constant's values, from an initializer or a `Constant` node; undefined when `name` is computed. */
  constant(name: string | null | undefined): ConstantValue | undefined {
    if (!name) return undefined;
    const init = this.graph.initializer(name);
    if (init) return tensorValue(init);
    const node = this.#producers.get(name);
    if (node?.opType !== 'Constant' || (node.domain ?? '') !== '') return undefined;
    const a = node.attribute?.[0];
    if (!a) return undefined;
    if (a.name === 'value' && a.t) return tensorValue(a.t);
    if (a.name === 'value_float') return { dataType: DataType.FLOAT, dims: [], values: [a.f ?? 0] };
    if (a.name === 'value_int') return { dataType: DataType.INT64, dims: [], values: [Number(a.i ?? 0)] };
    if (a.name === 'value_ints') return { dataType: DataType.INT64, dims: [a.ints?.length ?? 0], values: (a.ints ?? []).map(Number) };
    return undefined;
  }

  /** A float constant holding one value (a scalar or any shape of one element). */
  scalar(name: string | null | undefined): number | undefined {
    const c = this.constant(name);
    return c?.dataType === DataType.FLOAT && c.values.length === 1 ? c.values[0] : undefined;
  }

  /** An int64 or int32 constant's values. */
  ints(name: string | null | undefined): number[] | undefined {
    const c = this.constant(name);
    return c && (c.dataType === DataType.INT64 || c.dataType === DataType.INT32) ? c.values : undefined;
  }

  /** The float initializer's shape when `name` is a float initializer of `rank` dimensions (weights stay initializers in every exporter). */
  floatInitializer(name: string | null | undefined, rank: number): number[] | undefined {
    const t = this.graph.initializer(name);
    const dims = t?.dims?.map(Number);
    return t?.dataType === DataType.FLOAT && dims?.length === rank ? dims : undefined;
  }

  /** An int attribute, or `fallback` when absent. */
  int(node: NodeProto, name: string, fallback: number): number {
    const v = attribute(node, name);
    return typeof v === 'number' ? v : fallback;
  }

  /** The axes an Unsqueeze inserts: its second input from opset 13, its attribute before. */
  unsqueezeAxes(node: NodeProto): number[] | undefined {
    if (node.input?.[1]) return this.ints(node.input[1]);
    const v = attribute(node, 'axes');
    return Array.isArray(v) ? v : undefined;
  }

  /** A Transpose's permutation, compared with `perm`. */
  isTranspose(node: NodeProto | undefined, perm: number[]): node is NodeProto {
    const p = node && attribute(node, 'perm');
    return Array.isArray(p) && p.length === perm.length && p.every((x, i) => x === perm[i]);
  }
}

function tensorValue(t: TensorProto): ConstantValue | undefined {
  const dims = (t.dims ?? []).map(Number);
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : undefined;
  const view = raw ? new DataView(raw.buffer, raw.byteOffset, raw.byteLength) : undefined;
  const count = dims.reduce((a, b) => a * b, 1);
  // Only small constants (shapes, scalars, biases) are read through here; weights use OnnxGraph.floats.
  if (count > 1 << 16) return undefined;
  switch (t.dataType) {
    case DataType.FLOAT:
      return { dataType: DataType.FLOAT, dims, values: view ? Array.from({ length: count }, (_, i) => view.getFloat32(i * 4, true)) : [...(t.floatData ?? [])] };
    case DataType.INT64:
      return { dataType: DataType.INT64, dims, values: view ? Array.from({ length: count }, (_, i) => Number(view.getBigInt64(i * 8, true))) : (t.int64Data ?? []).map(Number) };
    case DataType.INT32:
      return { dataType: DataType.INT32, dims, values: view ? Array.from({ length: count }, (_, i) => view.getInt32(i * 4, true)) : [...(t.int32Data ?? [])] };
    default:
      return undefined;
  }
}
