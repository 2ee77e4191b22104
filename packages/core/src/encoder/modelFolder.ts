import { readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { EvomemError } from '../errors.js';

/** How token vectors become one sentence vector. */
export type PoolingMode = 'mean' | 'cls' | 'lastToken';

/** Weight variants of an ONNX export, named as optimum and transformers.js name their files. */
export type ModelDtype = 'fp32' | 'fp16' | 'q8' | 'int8' | 'uint8' | 'q4' | 'q4f16' | 'bnb4';

/** The file each dtype is stored in, in `onnx/` or at the folder root. */
export const ONNX_FILE_BY_DTYPE: Record<ModelDtype, string> = {
  fp32: 'model.onnx',
  fp16: 'model_fp16.onnx',
  q8: 'model_quantized.onnx',
  int8: 'model_int8.onnx',
  uint8: 'model_uint8.onnx',
  q4: 'model_q4.onnx',
  q4f16: 'model_q4f16.onnx',
  bnb4: 'model_bnb4.onnx',
};

/** Everything the encoder needs from a model folder, read and checked. */
export interface ModelFolder {
  dir: string;
  /** Absolute path of the ONNX graph. */
  onnxPath: string;
  /**
   * True when `onnxPath` is the fp32 graph and evomem quantizes it to int8 (dtype 'int8'
   * on a folder with an fp32 export); false when the file runs as it is.
   */
  quantize: boolean;
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  config: Record<string, unknown>;
  /** Pooling declared by sentence-transformers' `1_Pooling/config.json`, if present. */
  pooling?: PoolingMode;
  /** Prompts declared by `config_sentence_transformers.json`, if present. */
  prompts: { query?: string; document?: string };
  /** Longest input in tokens the model is used with by default, from the folder's configs. */
  maxLength: number;
  /** Longest input in tokens the model can take, and the config that says so; undefined when no config does. */
  lengthLimit?: { tokens: number; source: string };
}

/**
 * Reads a Hugging Face-style model folder: an ONNX graph (`onnx/model.onnx` or `model.onnx`,
 * or a quantized variant), `tokenizer.json`, `tokenizer_config.json`, `config.json`, and the
 * sentence-transformers files when present. Every missing or unreadable file is reported by
 * name with what was expected.
 */
export async function readModelFolder(dir: string, options: { dtype?: ModelDtype; modelFile?: string } = {}): Promise<ModelFolder> {
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    throw new EvomemError(
      'MODEL_NOT_FOUND',
      `Model folder not found: ${dir}. Pass the path of a folder holding an ONNX export (onnx/model.onnx, tokenizer.json, tokenizer_config.json, config.json), or a Hugging Face model id such as "Xenova/all-MiniLM-L6-v2".`,
    );
  }
  const { path: onnxPath, quantize } = await findOnnx(dir, options);
  const tokenizerJson = await readJson(dir, 'tokenizer.json', 'the Hugging Face tokenizer (export it with tokenizer.save_pretrained or optimum)');
  const tokenizerConfig = await readJson(dir, 'tokenizer_config.json', 'the tokenizer settings saved beside tokenizer.json');
  const config = await readJson(dir, 'config.json', "the model's transformers config");
  const poolingConfig = await readOptionalJson(dir, join('1_Pooling', 'config.json'));
  const stConfig = await readOptionalJson(dir, 'config_sentence_transformers.json');
  const sbertConfig = await readOptionalJson(dir, 'sentence_bert_config.json');

  const prompts: ModelFolder['prompts'] = {};
  const declared = stConfig?.prompts;
  if (declared && typeof declared === 'object') {
    const p = declared as Record<string, unknown>;
    const pick = (...keys: string[]) => keys.map((k) => p[k]).find((v): v is string => typeof v === 'string');
    const query = pick('query');
    const document = pick('document', 'passage', 'corpus');
    if (query !== undefined) prompts.query = query;
    if (document !== undefined) prompts.document = document;
  }

  const folder: ModelFolder = { dir, onnxPath, quantize, tokenizerJson, tokenizerConfig, config, prompts, maxLength: maxLengthOf(config, tokenizerConfig, sbertConfig) };
  const limit = lengthLimitOf(config, tokenizerConfig);
  if (limit) folder.lengthLimit = limit;
  const pooling = poolingConfig ? poolingOf(poolingConfig, dir) : undefined;
  if (pooling) folder.pooling = pooling;
  return folder;
}

/**
 * sentence-transformers truncates at `max_seq_length`; without it, the tokenizer's
 * `model_max_length` (often a 1e30 sentinel) capped by the position table applies.
 */
function maxLengthOf(config: Record<string, unknown>, tokenizerConfig: Record<string, unknown>, sbert?: Record<string, unknown>): number {
  const fromSbert = positive(sbert?.max_seq_length);
  if (fromSbert) return fromSbert;
  return lengthLimitOf(config, tokenizerConfig)?.tokens ?? 512;
}

/**
 * The smaller of the position table (`max_position_embeddings`: longer inputs index past
 * it) and the tokenizer's `model_max_length` (RoBERTa-style tables hold 2 more rows than
 * usable positions; the tokenizer's limit says so). The 1e30 "no limit" sentinel is skipped.
 */
function lengthLimitOf(config: Record<string, unknown>, tokenizerConfig: Record<string, unknown>): { tokens: number; source: string } | undefined {
  const limits = [
    { tokens: positive(tokenizerConfig.model_max_length), source: 'model_max_length in tokenizer_config.json' },
    { tokens: positive(config.max_position_embeddings), source: 'max_position_embeddings in config.json' },
  ].filter((l): l is { tokens: number; source: string } => l.tokens !== undefined && l.tokens < 1e6);
  return limits.sort((a, b) => a.tokens - b.tokens)[0];
}

function positive(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

function poolingOf(config: Record<string, unknown>, dir: string): PoolingMode {
  if (config.pooling_mode_mean_tokens === true) return 'mean';
  if (config.pooling_mode_cls_token === true) return 'cls';
  if (config.pooling_mode_lasttoken === true) return 'lastToken';
  const enabled = Object.entries(config)
    .filter(([k, v]) => k.startsWith('pooling_mode_') && v === true)
    .map(([k]) => k);
  throw new EvomemError(
    'MODEL_FILE_INVALID',
    `${join(dir, '1_Pooling', 'config.json')} asks for pooling ${enabled.join(', ') || '(none)'}; evomem supports mean, cls and lasttoken. Pass pooling: 'mean' | 'cls' | 'lastToken' to override.`,
  );
}

/**
 * The graph a dtype runs. 'int8' is evomem's own dynamic quantization of the fp32 graph
 * (the same checked recipe for every model); a folder without an fp32 graph runs the
 * `model_int8.onnx` it ships. Other dtypes run the file their name maps to.
 */
async function findOnnx(dir: string, options: { dtype?: ModelDtype; modelFile?: string }): Promise<{ path: string; quantize: boolean }> {
  if (options.modelFile) {
    const path = join(dir, options.modelFile);
    if (await isFile(path)) return { path, quantize: false };
    throw new EvomemError('MODEL_FILE_MISSING', `modelFile ${options.modelFile} does not exist in ${dir}.`);
  }
  const dtype = options.dtype ?? 'fp32';
  const file = ONNX_FILE_BY_DTYPE[dtype];
  if (!file) {
    throw new EvomemError('INVALID_OPTION', `dtype ${JSON.stringify(dtype)} is not one of ${Object.keys(ONNX_FILE_BY_DTYPE).join(', ')}.`);
  }
  if (dtype === 'int8') {
    for (const path of [join(dir, 'onnx', ONNX_FILE_BY_DTYPE.fp32), join(dir, ONNX_FILE_BY_DTYPE.fp32)]) if (await isFile(path)) return { path, quantize: true };
  }
  const candidates = [join(dir, 'onnx', file), join(dir, file)];
  for (const path of candidates) if (await isFile(path)) return { path, quantize: false };
  const others: string[] = [];
  for (const [otherDtype, otherFile] of Object.entries(ONNX_FILE_BY_DTYPE)) {
    for (const path of [join(dir, 'onnx', otherFile), join(dir, otherFile)]) {
      if (await isFile(path)) others.push(`${relative(dir, path)} (dtype: '${otherDtype}')`);
    }
  }
  throw new EvomemError(
    'MODEL_FILE_MISSING',
    `No ONNX graph for dtype '${dtype}' in ${dir}: expected ${candidates.map((c) => relative(dir, c)).join(' or ')}.` +
      (others.length ? ` Found ${others.join(', ')}; pass that dtype, or modelFile.` : ' Export the model with optimum (optimum-cli export onnx) or use a transformers.js-ready folder.'),
  );
}

async function readJson(dir: string, file: string, what: string): Promise<Record<string, unknown>> {
  const path = join(dir, file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new EvomemError('MODEL_FILE_MISSING', `Missing ${path}: expected ${what}.`, { cause: error });
  }
  return parseJson(path, text);
}

async function readOptionalJson(dir: string, file: string): Promise<Record<string, unknown> | undefined> {
  const path = join(dir, file);
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : parseJson(path, text);
}

function parseJson(path: string, text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new EvomemError('MODEL_FILE_INVALID', `${path} is not valid JSON (${(error as Error).message}). Re-download or re-export the file.`, {
      cause: error,
    });
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new EvomemError('MODEL_FILE_INVALID', `${path} must hold a JSON object. Re-download or re-export the file.`);
  }
  return value as Record<string, unknown>;
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
