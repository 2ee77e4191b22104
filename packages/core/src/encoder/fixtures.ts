import { afterAll, beforeAll } from 'vitest';
import { Encoder } from './Encoder.js';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeBertFolder, type BertFolderOptions } from '@evomem/onnx-builder';

/** A tiny BERT: enough to exercise every code path in milliseconds. */
export const TINY_BERT = {
  vocab_size: 0,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  max_position_embeddings: 128,
};

/**
 * Writes a random-weight model folder in a fresh temp dir; the caller removes it with `cleanup`.
 * `tokenizer: 'unigram'` gives it `tinyUnigramTokenizer` instead of the WordPiece one.
 */
export async function tinyModel(options: Partial<BertFolderOptions> & { name?: string; tokenizer?: 'wordpiece' | 'unigram' } = {}): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const { tokenizer, name, ...folder } = options;
  const root = await mkdtemp(join(tmpdir(), 'evomem-test-'));
  const dir = join(root, name ?? 'tiny-bert');
  let config = TINY_BERT;
  if (tokenizer === 'unigram') {
    const unigram = tinyUnigramTokenizer();
    const from = join(root, 'unigram-tokenizer');
    await mkdir(from);
    await writeFile(join(from, 'tokenizer.json'), JSON.stringify(unigram.tokenizer));
    await writeFile(join(from, 'tokenizer_config.json'), JSON.stringify(unigram.config));
    folder.tokenizerFrom = from;
    config = { ...TINY_BERT, vocab_size: unigram.vocabSize };
  }
  // std 0.5: random weights large enough that different texts get clearly different vectors.
  await writeBertFolder(dir, { config, std: 0.5, modelMaxLength: 64, ...folder });
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/**
 * A small sentencepiece-style Unigram tokenizer in `tokenizer.json` format, built like the
 * default model's (`@evomem/model-use-lite`): spaces become `▁`, one `▁` is put before the
 * text, no pre-tokenizer splits it and no special tokens wrap it. So white space has ids
 * of its own, and a long text reaches the library's Unigram model as one sequence.
 */
export function tinyUnigramTokenizer(): { tokenizer: object; config: object; vocabSize: number } {
  const chars = [...'abcdefghijklmnopqrstuvwxyz0123456789.,?!:'];
  const words = ['the', 'what', 'did', 'she', 'say', 'about', 'memory', 'agent', 'remember'];
  const vocab: [string, number][] = [
    ['<unk>', 0],
    ['▁', -4],
    ...chars.map((c): [string, number] => [c, -6]),
    ...chars.map((c): [string, number] => [`▁${c}`, -7]),
    ...words.map((w): [string, number] => [`▁${w}`, -3]),
  ];
  return {
    vocabSize: vocab.length,
    config: { tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: 64, unk_token: '<unk>' },
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [],
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'NFKC' },
          { type: 'Lowercase' },
          { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
          { type: 'Replace', pattern: { Regex: '\\A(?=[\\s\\S])' }, content: '▁' },
        ],
      },
      pre_tokenizer: null,
      post_processor: null,
      decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
      model: { type: 'Unigram', unk_id: 0, byte_fallback: false, vocab },
    },
  };
}

export { cosine } from '../util/vector.js';

export function norm(a: Float32Array): number {
  return Math.sqrt(a.reduce((s, v) => s + v * v, 0));
}

/** Loads a tiny-model encoder on CPU before the suite's tests and frees both after; returns a getter. */
export function tinyEncoderForSuite(): () => Encoder {
  let model: { dir: string; cleanup: () => Promise<void> } | undefined;
  let encoder: Encoder | undefined;
  beforeAll(async () => {
    model = await tinyModel();
    encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
  });
  afterAll(async () => {
    await encoder?.dispose();
    await model?.cleanup();
  });
  return () => encoder!;
}
