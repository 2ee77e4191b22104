import ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { buildRandomBert } from './bert.js';
import { GraphBuilder } from './GraphBuilder.js';

const config = { vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 32, max_position_embeddings: 16 };
const ints = (values: number[], shape: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), shape);

async function run(bytes: Uint8Array, ids: number[][], mask: number[][]) {
  const session = await ort.InferenceSession.create(bytes);
  const shape = [ids.length, ids[0]!.length];
  const out = await session.run({
    input_ids: ints(ids.flat(), shape),
    attention_mask: ints(mask.flat(), shape),
    token_type_ids: ints(ids.flat().map(() => 0), shape),
  });
  await session.release();
  return out.last_hidden_state!;
}

describe('buildRandomBert', () => {
  it('is reproducible from its seed', () => {
    expect(Buffer.from(buildRandomBert(config, { seed: 3 })).equals(Buffer.from(buildRandomBert(config, { seed: 3 })))).toBe(true);
    expect(Buffer.from(buildRandomBert(config, { seed: 3 })).equals(Buffer.from(buildRandomBert(config, { seed: 4 })))).toBe(false);
  });

  it('outputs [batch, sequence, hidden] and masks padded keys out of attention', async () => {
    const bytes = buildRandomBert(config, { std: 0.5 });
    const alone = await run(bytes, [[2, 7, 9, 3]], [[1, 1, 1, 1]]);
    const padded = await run(bytes, [[2, 7, 9, 3, 0, 0], [2, 5, 3, 0, 0, 0]], [[1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]]);
    expect(padded.dims).toEqual([2, 6, 16]);
    const a = alone.data as Float32Array;
    const p = padded.data as Float32Array;
    for (let i = 0; i < 4 * 16; i++) expect(p[i]).toBeCloseTo(a[i]!, 4);
    // Without the mask the padding would leak into the real tokens.
    const unmasked = await run(bytes, [[2, 7, 9, 3, 0, 0]], [[1, 1, 1, 1, 1, 1]]);
    const u = unmasked.data as Float32Array;
    expect(Math.max(...Array.from({ length: 64 }, (_, i) => Math.abs(u[i]! - a[i]!)))).toBeGreaterThan(1e-3);
  });

  it('rejects a hidden size the heads do not divide', () => {
    expect(() => buildRandomBert({ ...config, num_attention_heads: 3 })).toThrow(/hidden_size 16 is not divisible by num_attention_heads 3/);
  });
});

describe('GraphBuilder', () => {
  it('refuses a name used twice and an initializer that does not fill its dims', () => {
    const g = new GraphBuilder();
    g.input('x', 'float32', [1]);
    expect(() => g.input('x', 'float32', [1])).toThrow(/"x" is already used/);
    expect(() => g.initializer('w', new Float32Array(3), [2, 2])).toThrow(/3 values do not fill dims \[2, 2\]/);
  });

  it('writes a model onnxruntime runs', async () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['n', 2]);
    g.output(g.node('MatMul', [x, g.floats([1, 2, 3, 4], [2, 2])]), 'float32', ['n', 2], 'y');
    const session = await ort.InferenceSession.create(g.toBytes());
    const { y } = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1]), [1, 2]) });
    expect(Array.from(y!.data as Float32Array)).toEqual([4, 6]);
  });
});
