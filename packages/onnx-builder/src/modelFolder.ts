import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildRandomBert, type BertConfig, type RandomBertOptions } from './bert.js';

export interface BertFolderOptions extends RandomBertOptions {
  /** The architecture; `vocab_size` is taken from the tokenizer when one is copied. */
  config: BertConfig;
  /**
   * A folder with a real `tokenizer.json` + `tokenizer_config.json` (and optionally
   * `special_tokens_map.json`, `vocab.txt`) to copy. Without it a small WordPiece
   * tokenizer is generated, so tests run where no real tokenizer files exist.
   */
  tokenizerFrom?: string;
  /** Put the graph at `onnx/<file>` (the optimum / transformers.js layout) or at the folder root. @default 'onnx' */
  layout?: 'onnx' | 'root';
  /** Name of the graph file. @default 'model.onnx' */
  modelFile?: string;
  /** Writes sentence-transformers' `1_Pooling/config.json` with this mode. */
  pooling?: 'mean' | 'cls' | 'lasttoken';
  /** Writes `config_sentence_transformers.json` with these prompts. */
  prompts?: Record<string, string>;
  /** `model_max_length` of the generated tokenizer. @default 512 */
  modelMaxLength?: number;
}

/**
 * Writes a Hugging Face-style model folder around a random-weight BERT graph: `config.json`,
 * tokenizer files and the ONNX graph, laid out like an optimum export.
 *
 * @example
 * await writeBertFolder('/tmp/tiny-bert', { config: { vocab_size: 0, hidden_size: 32, num_hidden_layers: 2,
 *   num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 512 } });
 */
export async function writeBertFolder(dir: string, options: BertFolderOptions): Promise<void> {
  await mkdir(dir, { recursive: true });
  const config: BertConfig & Record<string, unknown> = { ...options.config };
  if (options.tokenizerFrom) {
    for (const file of ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'vocab.txt']) {
      await copyFile(join(options.tokenizerFrom, file), join(dir, file)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT' || file === 'tokenizer.json' || file === 'tokenizer_config.json') throw error;
      });
    }
  } else {
    const { tokenizer, vocabSize } = tinyWordPieceTokenizer();
    config.vocab_size = vocabSize;
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    await writeFile(
      join(dir, 'tokenizer_config.json'),
      JSON.stringify({
        tokenizer_class: 'BertTokenizer',
        do_lower_case: true,
        model_max_length: options.modelMaxLength ?? 512,
        cls_token: '[CLS]',
        sep_token: '[SEP]',
        pad_token: '[PAD]',
        unk_token: '[UNK]',
        mask_token: '[MASK]',
      }),
    );
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', architectures: ['BertModel'], ...config }, null, 2));
  const graphDir = (options.layout ?? 'onnx') === 'onnx' ? join(dir, 'onnx') : dir;
  await mkdir(graphDir, { recursive: true });
  const seed = options.seed === undefined ? {} : { seed: options.seed };
  await writeFile(join(graphDir, options.modelFile ?? 'model.onnx'), buildRandomBert(config, { ...seed, std: options.std ?? 0.02 }));
  if (options.pooling) {
    await mkdir(join(dir, '1_Pooling'), { recursive: true });
    await writeFile(
      join(dir, '1_Pooling', 'config.json'),
      JSON.stringify({
        word_embedding_dimension: config.hidden_size,
        pooling_mode_cls_token: options.pooling === 'cls',
        pooling_mode_mean_tokens: options.pooling === 'mean',
        pooling_mode_max_tokens: false,
        pooling_mode_lasttoken: options.pooling === 'lasttoken',
      }),
    );
  }
  if (options.prompts) {
    await writeFile(join(dir, 'config_sentence_transformers.json'), JSON.stringify({ prompts: options.prompts, default_prompt_name: null }));
  }
}

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] as const;

/**
 * A small lower-casing WordPiece tokenizer in Hugging Face `tokenizer.json` format: every
 * ASCII word splits into known pieces (letters and digits, with `##` continuations), and
 * anything else becomes `[UNK]`. Enough to exercise truncation, padding and batching.
 */
export function tinyWordPieceTokenizer(): { tokenizer: object; vocabSize: number } {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const words = ['the', 'and', 'what', 'did', 'she', 'say', 'about', 'last', 'week', 'memory', 'agent', 'remember'];
  const pieces = [
    ...SPECIALS,
    ...chars,
    ...[...chars].map((c) => `##${c}`),
    ...'.,!?:;\'"()-'.split(''),
    ...words,
  ];
  const vocab = Object.fromEntries(pieces.map((piece, id) => [piece, id]));
  const special = (content: string) => ({
    id: vocab[content],
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  });
  const templateToken = (id: string) => ({ id, ids: [vocab[id]], tokens: [id] });
  return {
    vocabSize: pieces.length,
    tokenizer: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: SPECIALS.map(special),
      normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
        pair: [
          { SpecialToken: { id: '[CLS]', type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '[SEP]', type_id: 0 } },
          { Sequence: { id: 'B', type_id: 1 } },
          { SpecialToken: { id: '[SEP]', type_id: 1 } },
        ],
        special_tokens: { '[CLS]': templateToken('[CLS]'), '[SEP]': templateToken('[SEP]') },
      },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
    },
  };
}
