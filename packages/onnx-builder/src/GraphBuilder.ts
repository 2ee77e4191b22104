import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Element types this builder writes. */
export type ElemType = 'float32' | 'int64' | 'int32' | 'bool';

const DATA_TYPE: Record<ElemType, number> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** A dimension: a fixed size or a symbolic name such as `"batch"`. */
export type Dim = number | string;

/** An attribute value; arrays of numbers are written as ints unless `float` is asked for. */
export type AttrValue = number | string | number[] | { floats: number[] } | { float: number };

export interface GraphBuilderOptions {
  /** Graph name written into the model. @default "graph" */
  name?: string;
  /** Default opset of the `ai.onnx` domain. @default 17 */
  opset?: number;
}

/**
 * Writes an ONNX model from nodes, initializers and typed inputs/outputs.
 *
 * @example
 * const g = new GraphBuilder();
 * const x = g.input('x', 'float32', ['batch', 4]);
 * const w = g.initializer('w', new Float32Array(16), [4, 4]);
 * g.output(g.node('MatMul', [x, w]), 'float32', ['batch', 4], 'y');
 * const bytes = g.toBytes();
 */
export class GraphBuilder {
  readonly #nodes: onnxProto.onnx.INodeProto[] = [];
  readonly #initializers: onnxProto.onnx.ITensorProto[] = [];
  readonly #inputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #outputs: onnxProto.onnx.IValueInfoProto[] = [];
  readonly #names = new Set<string>();
  readonly #name: string;
  readonly #opset: number;
  #counter = 0;

  constructor(options: GraphBuilderOptions = {}) {
    this.#name = options.name ?? 'graph';
    this.#opset = options.opset ?? 17;
  }

  /** Declares a graph input and returns its name. */
  input(name: string, type: ElemType, shape: Dim[]): string {
    this.#claim(name);
    this.#inputs.push(valueInfo(name, type, shape));
    return name;
  }

  /** Declares `value` (a node output) as a graph output, renamed to `name` through an Identity. */
  output(value: string, type: ElemType, shape: Dim[], name = value): string {
    if (name !== value) {
      this.#claim(name);
      this.#nodes.push({ opType: 'Identity', input: [value], output: [name], name: `${name}_identity` });
    }
    this.#outputs.push(valueInfo(name, type, shape));
    return name;
  }

  /** Adds a constant tensor (stored as raw little-endian bytes) and returns its name. */
  initializer(name: string, data: Float32Array | BigInt64Array | Int32Array, dims: number[]): string {
    this.#claim(name);
    const expected = dims.reduce((a, b) => a * b, 1);
    if (data.length !== expected) {
      throw new RangeError(`initializer ${name}: ${data.length} values do not fill dims [${dims.join(', ')}] (${expected})`);
    }
    const type: ElemType = data instanceof Float32Array ? 'float32' : data instanceof BigInt64Array ? 'int64' : 'int32';
    this.#initializers.push({
      name,
      dims,
      dataType: DATA_TYPE[type],
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** Shorthand for a float32 initializer with a generated name. */
  floats(data: Float32Array | number[], dims: number[], hint = 'const'): string {
    return this.initializer(this.#fresh(hint), data instanceof Float32Array ? data : Float32Array.from(data), dims);
  }

  /** Shorthand for an int64 initializer with a generated name. */
  ints(data: number[], dims: number[] = [data.length], hint = 'ints'): string {
    return this.initializer(this.#fresh(hint), BigInt64Array.from(data.map((v) => BigInt(v))), dims);
  }

  /** Adds a node with one output and returns that output's name. */
  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): string {
    return this.nodeN(opType, inputs, 1, attrs, domain)[0] as string;
  }

  /** Adds a node with `outputCount` outputs and returns their names. */
  nodeN(opType: string, inputs: string[], outputCount: number, attrs: Record<string, AttrValue> = {}, domain = ''): string[] {
    const base = this.#fresh(opType.toLowerCase());
    const output = Array.from({ length: outputCount }, (_, i) => (outputCount === 1 ? base : `${base}_${i}`));
    for (const o of output) this.#claim(o);
    this.#nodes.push({
      opType,
      domain,
      input: inputs,
      output,
      name: base,
      attribute: Object.entries(attrs).map(([key, value]) => attribute(key, value)),
    });
    return output;
  }

  /** Serializes the model to ONNX protobuf bytes. */
  toBytes(): Uint8Array {
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: '@evomem/onnx-builder',
      opsetImport: [{ domain: '', version: this.#opset }],
      graph: {
        name: this.#name,
        node: this.#nodes,
        initializer: this.#initializers,
        input: this.#inputs,
        output: this.#outputs,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }

  #claim(name: string): void {
    if (this.#names.has(name)) throw new Error(`GraphBuilder: the name ${JSON.stringify(name)} is already used`);
    this.#names.add(name);
  }

  /** An unused name starting with `hint`; the caller claims it. */
  #fresh(hint: string): string {
    let name: string;
    do name = `${hint}_${this.#counter++}`;
    while (this.#names.has(name));
    return name;
  }
}

function valueInfo(name: string, type: ElemType, shape: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DATA_TYPE[type],
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError(`attribute ${name}: ${value} is not an integer; use { float: ${value} }`);
    return { name, type: T.INT, i: value };
  }
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.FLOAT, f: value.float };
}
