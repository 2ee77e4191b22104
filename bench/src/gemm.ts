import ort from 'onnxruntime-node';
import { GraphBuilder, Rng } from '@evomem/onnx-builder';

/**
 * The GEMM rate onnxruntime reaches on this machine: a graph of chained MatMuls shaped
 * like the model's FFN ([M, H] x [H, I] x [I, H], repeated), timed with the same thread
 * count. Best of several runs, in FLOP/s.
 */
export async function measureGemmRate(hidden: number, intermediate: number, threads: number, rows = 4096): Promise<number> {
  const rng = new Rng(3);
  const g = new GraphBuilder({ name: 'gemm' });
  let x = g.input('x', 'float32', [rows, hidden]);
  const pairs = 6;
  for (let i = 0; i < pairs; i++) {
    x = g.node('MatMul', [x, g.floats(rng.normal(hidden * intermediate, 0.02), [hidden, intermediate], 'up')]);
    x = g.node('MatMul', [x, g.floats(rng.normal(intermediate * hidden, 0.02), [intermediate, hidden], 'down')]);
  }
  g.output(x, 'float32', [rows, hidden], 'y');
  const session = await ort.InferenceSession.create(g.toBytes(), {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const input = new ort.Tensor('float32', rng.normal(rows * hidden, 1), [rows, hidden]);
  const flops = 2 * rows * hidden * intermediate * 2 * pairs;
  await session.run({ x: input });
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await session.run({ x: input });
    best = Math.min(best, performance.now() - t);
  }
  await session.release();
  return flops / (best / 1000);
}
