import { readFile } from 'node:fs/promises';
import type onnxProto from 'onnx-proto';
import { EvomemError } from '../../errors.js';

type Onnx = typeof onnxProto.onnx;
export type NodeProto = onnxProto.onnx.INodeProto;
export type TensorProto = onnxProto.onnx.ITensorProto;
export type ModelProto = onnxProto.onnx.ModelProto;

let onnxModule: Promise<Onnx> | undefined;

/** The ONNX protobuf schema, loaded on first use: only graph rewriting needs it. */
export function loadOnnx(): Promise<Onnx> {
  onnxModule ??= import('onnx-proto').then((m) => ((m as { default?: typeof onnxProto }).default ?? (m as unknown as typeof onnxProto)).onnx);
  return onnxModule;
}

/** ONNX element types the rewrites read and write. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

type TypedArray = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;
const DATA_TYPE_OF = (data: TypedArray): number =>
  data instanceof Float32Array ? DataType.FLOAT : data instanceof Int8Array ? DataType.INT8 : data instanceof Uint8Array ? DataType.UINT8 : data instanceof Int32Array ? DataType.INT32 : DataType.INT64;

/**
 * An ONNX model held for rewriting: its nodes, constant tensors and the edges between
 * them, with the lookups graph rewrites need (who produces a value, who reads it, which
 * inputs are constants). Weights stay the bytes the file held until a rewrite replaces
 * them. Graphs with external data (weights in a side file, for models over 2 GB) are
 * refused: encoders that size are not what evomem rewrites.
 */
export class OnnxGraph {
  readonly model: ModelProto;
  readonly #onnx: Onnx;
  readonly #source: string;
  #initializers = new Map<string, TensorProto>();
  #names = new Set<string>();
  #counter = 0;

  private constructor(onnx: Onnx, model: ModelProto, source: string) {
    this.#onnx = onnx;
    this.model = model;
    this.#source = source;
    const graph = model.graph;
    if (!graph) throw new EvomemError('MODEL_FILE_INVALID', `${source} holds no graph. Re-export the model.`);
    for (const t of graph.initializer ?? []) {
      if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
        throw new EvomemError('GRAPH_UNSUPPORTED', `${source} keeps its weights in external data files; evomem rewrites single-file graphs only. Run it as exported (dtype 'fp32', optimize off), or a quantized file the model ships (dtype 'q8', or modelFile).`);
      }
      this.#initializers.set(t.name ?? '', t);
    }
    for (const n of graph.node ?? []) for (const o of n.output ?? []) this.#names.add(o);
    for (const v of [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])]) this.#names.add(v.name ?? '');
    for (const name of this.#initializers.keys()) this.#names.add(name);
  }

  /** Reads and decodes an ONNX file; `MODEL_FILE_INVALID` names the file when it is not one. */
  static async read(path: string): Promise<OnnxGraph> {
    return OnnxGraph.decode(await readFile(path), path);
  }

  /** Decodes ONNX protobuf bytes; `source` names them in errors. */
  static async decode(bytes: Uint8Array, source = 'the ONNX bytes'): Promise<OnnxGraph> {
    const onnx = await loadOnnx();
    let model: ModelProto;
    try {
      model = onnx.ModelProto.decode(bytes);
    } catch (error) {
      throw new EvomemError('MODEL_FILE_INVALID', `${source} is not an ONNX model (${(error as Error).message}); it may be truncated (an interrupted download?): re-download or re-export it.`, { cause: error });
    }
    return new OnnxGraph(onnx, model, source);
  }

  get nodes(): NodeProto[] {
    return (this.model.graph!.node ??= []);
  }

  set nodes(nodes: NodeProto[]) {
    this.model.graph!.node = nodes;
  }

  /** The graph's input and output names. */
  get inputNames(): string[] {
    return (this.model.graph!.input ?? []).map((v) => v.name ?? '');
  }

  get outputNames(): string[] {
    return (this.model.graph!.output ?? []).map((v) => v.name ?? '');
  }

  /** The constant tensor called `name`, if there is one. */
  initializer(name: string | undefined | null): TensorProto | undefined {
    return name ? this.#initializers.get(name) : undefined;
  }

  /** Dimensions of a constant tensor. */
  dims(name: string): number[] | undefined {
    return this.initializer(name)?.dims?.map(Number);
  }

  /** A float32 constant's values (a copy), or undefined when `name` is not a float32 constant. */
  floats(name: string | undefined | null): Float32Array | undefined {
    const t = this.initializer(name);
    if (!t || t.dataType !== DataType.FLOAT) return undefined;
    if (t.rawData && t.rawData.length > 0) {
      const copy = new Uint8Array(t.rawData.length);
      copy.set(t.rawData);
      return new Float32Array(copy.buffer);
    }
    return Float32Array.from(t.floatData ?? []);
  }

  /** Adds a constant tensor under a fresh name starting with `hint` and returns the name. */
  addInitializer(hint: string, data: TypedArray, dims: number[]): string {
    const name = this.freshName(hint);
    const tensor: TensorProto = { name, dims, dataType: DATA_TYPE_OF(data), rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
    (this.model.graph!.initializer ??= []).push(tensor);
    this.#initializers.set(name, tensor);
    return name;
  }

  /** An unused value name starting with `hint`, claimed. */
  freshName(hint: string): string {
    let name: string;
    do name = `${hint}_${this.#counter++}`;
    while (this.#names.has(name));
    this.#names.add(name);
    return name;
  }

  /** A node of `opType` (in `domain`) with fresh output names; not yet in the graph. */
  node(opType: string, inputs: string[], outputs: string[], attributes: onnxProto.onnx.IAttributeProto[] = [], domain = ''): NodeProto {
    return { opType, domain, input: inputs, output: outputs, name: this.freshName(`${opType.toLowerCase()}_evomem`), attribute: attributes };
  }

  /** Nodes reading each value. */
  consumers(): Map<string, NodeProto[]> {
    const map = new Map<string, NodeProto[]>();
    for (const n of this.nodes) {
      for (const i of n.input ?? []) {
        if (!i) continue;
        let list = map.get(i);
        if (!list) map.set(i, (list = []));
        list.push(n);
      }
    }
    return map;
  }

  /** The node writing each value. */
  producers(): Map<string, NodeProto> {
    const map = new Map<string, NodeProto>();
    for (const n of this.nodes) for (const o of n.output ?? []) map.set(o, n);
    return map;
  }

  /** Declares an operator set the rewrite uses (for example `com.microsoft`, 1). */
  useOpset(domain: string, version: number): void {
    const imports = (this.model.opsetImport ??= []);
    if (!imports.some((o) => (o.domain ?? '') === domain)) imports.push({ domain, version });
  }

  /** A `key=value` pair of the model's metadata. */
  metadata(key: string): string | undefined {
    return this.model.metadataProps?.find((p) => p.key === key)?.value ?? undefined;
  }

  setMetadata(key: string, value: string): void {
    const props = (this.model.metadataProps ??= []);
    const entry = props.find((p) => p.key === key);
    if (entry) entry.value = value;
    else props.push({ key, value });
  }

  /**
   * After a rewrite: drops nodes whose outputs nobody reads (graph outputs count as read)
   * and constants no node reads, then orders the nodes so each comes after its inputs'
   * producers, as ONNX requires. Throws if the rewrite left a cycle or an input unproduced.
   */
  finish(): void {
    const outputs = new Set(this.outputNames);
    let nodes = this.nodes;
    for (let changed = true; changed; ) {
      const read = new Set<string>(outputs);
      for (const n of nodes) for (const i of n.input ?? []) read.add(i);
      const kept = nodes.filter((n) => (n.output ?? []).some((o) => o && read.has(o)));
      changed = kept.length !== nodes.length;
      nodes = kept;
    }
    const read = new Set<string>();
    for (const n of nodes) for (const i of n.input ?? []) read.add(i);
    const graph = this.model.graph!;
    graph.initializer = (graph.initializer ?? []).filter((t) => read.has(t.name ?? '') || outputs.has(t.name ?? ''));
    this.#initializers = new Map(graph.initializer.map((t) => [t.name ?? '', t]));

    const available = new Set<string>([...this.inputNames, ...this.#initializers.keys(), '']);
    const ordered: NodeProto[] = [];
    let pending = nodes;
    while (pending.length) {
      const next: NodeProto[] = [];
      for (const n of pending) {
        if ((n.input ?? []).every((i) => available.has(i))) {
          ordered.push(n);
          for (const o of n.output ?? []) available.add(o);
        } else next.push(n);
      }
      if (next.length === pending.length) {
        const missing = (next[0]!.input ?? []).find((i) => !available.has(i));
        throw new EvomemError('GRAPH_UNSUPPORTED', `Rewriting ${this.#source} left node ${next[0]!.name ?? next[0]!.opType} waiting on ${missing}, so the rewrite was dropped; please report this graph.`);
      }
      pending = next;
    }
    graph.node = ordered;
    // Shapes recorded for intermediate values may not hold after a rewrite; onnxruntime infers them again.
    graph.valueInfo = [];
  }

  /** Counts nodes by operator type. */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const n of this.nodes) counts[n.opType ?? ''] = (counts[n.opType ?? ''] ?? 0) + 1;
    return counts;
  }

  /** The model as ONNX protobuf bytes. */
  encode(): Uint8Array {
    return this.#onnx.ModelProto.encode(this.model).finish();
  }
}

/** Reads a node attribute: int, float, ints, string; undefined when absent. */
export function attribute(node: NodeProto, name: string): number | number[] | string | undefined {
  const a = node.attribute?.find((x) => x.name === name);
  if (!a) return undefined;
  switch (a.type) {
    case 1:
      return a.f ?? 0;
    case 2:
      return Number(a.i ?? 0);
    case 3:
      return new TextDecoder().decode(a.s ?? new Uint8Array());
    case 7:
      return (a.ints ?? []).map(Number);
    case 6:
      return [...(a.floats ?? [])];
    default:
      return undefined;
  }
}

/** Attribute builders for new nodes. */
export const attr = {
  int: (name: string, i: number): onnxProto.onnx.IAttributeProto => ({ name, type: 2, i }),
  float: (name: string, f: number): onnxProto.onnx.IAttributeProto => ({ name, type: 1, f }),
  ints: (name: string, ints: number[]): onnxProto.onnx.IAttributeProto => ({ name, type: 7, ints }),
};
