import type { QueryAdapter } from '../adapter/QueryAdapter.js';
import { EvomemError } from '../errors.js';
import { checkOptions, is, type OptionRule } from '../util/options.js';
import type { QuantizeOptions } from './graph/quantize.js';
import type { DownloadProgress } from './hub.js';
import { ONNX_FILE_BY_DTYPE, type ModelDtype, type ModelFolder, type PoolingMode } from './modelFolder.js';
import type { Device } from './session.js';
import type { OverflowPolicy } from './TextTokenizer.js';

export interface EncoderOptions {
  /**
   * A model folder path, or a Hugging Face model id (downloaded to the cache on first use).
   * @default the offline default model from `@evomem/model-use-lite`
   */
  model?: string;
  /** Where inference runs. `auto` tries CUDA, then CPU with one warning. @default 'auto' */
  device?: Device;
  /** GPU ordinal when running on CUDA. @default 0 */
  deviceId?: number;
  /** Threads onnxruntime uses per operator. @default all available cores */
  threads?: number;
  /**
   * Which weights run. 'int8': evomem quantizes the folder's fp32 graph (dynamic int8:
   * int8 weights with one scale per output column, activations quantized at run time),
   * about twice as fast on CPUs, cached beside the model on first load; a folder with no
   * fp32 graph runs the `model_int8.onnx` it ships. Other values load the file a hub
   * export names so (`model_quantized.onnx` for 'q8', `model_fp16.onnx`, ...) as it is.
   * int8 runs on the CPU only.
   * @default 'fp32'
   */
  dtype?: ModelDtype;
  /**
   * Rewrite an fp32 graph's self-attention blocks into onnxruntime's fused Attention op
   * before running it on the CPU, checked against the exported graph on a probe batch and
   * cached beside the model (keyed by the graph's sha256); patterns that do not match are
   * left as exported. Off by default: on onnxruntime-node 1.30's CPU kernels it measured
   * within a few percent of the exported graph (`pnpm bench:encoder`, `fused`), not worth a
   * rewrite and a file beside the model for every user.
   * @default false
   */
  optimize?: boolean;
  /** How dtype 'int8' quantizes (`reduceRange` for AVX2 CPUs without VNNI). @default { reduceRange: false } */
  quantization?: QuantizeOptions;
  /** An explicit graph file inside the model folder; overrides `dtype`. */
  modelFile?: string;
  /** Longest input in tokens, special tokens included. @default from the model's configs (sentence-transformers' max_seq_length, else model_max_length) */
  maxLength?: number;
  /**
   * Inputs over `maxLength` tokens: `truncate` keeps the head (special tokens kept), `error`
   * throws naming the input, `chunk` embeds every window and averages them by token count.
   * @default 'truncate'
   */
  overflow?: OverflowPolicy;
  /** Pooling of token states. @default from 1_Pooling/config.json, else 'mean' */
  pooling?: PoolingMode;
  /** Scale every vector to unit length. @default true */
  normalize?: boolean;
  /** Keep only the first N dimensions (Matryoshka models), renormalized when `normalize`. @default the model's width */
  dimensions?: number;
  /** Text put before each query by `embedQuery`. @default the model's declared query prompt, else a known one for its family (bge, e5), else none */
  queryPrompt?: string;
  /** Text put before each document by `embedDocuments`. @default the model's declared document prompt, else a known one for its family, else none */
  documentPrompt?: string;
  /**
   * Most padded tokens in one model call. On CPU, throughput is flat from 1,024 to 16,384
   * tokens while memory and latency grow with the batch (measured by `pnpm bench:encoder`),
   * so batches stay small; GPUs need wide batches to fill their cores.
   * @default 1024 on CPU, 8192 on GPU
   */
  maxBatchTokens?: number;
  /** Most texts in one model call. @default 256 */
  maxBatchSize?: number;
  /** Hub revision (branch, tag, commit) for model ids. @default 'main' */
  revision?: string;
  /** Local model cache. @default $EVOMEM_CACHE, else ~/.cache/evomem */
  cacheDir?: string;
  /** Refuse to download; use the cache or fail with where to put the files. @default HF_HUB_OFFLINE=1 or EVOMEM_OFFLINE=1 */
  offline?: boolean;
  /** Hub address. @default $HF_ENDPOINT, else https://huggingface.co */
  hubEndpoint?: string;
  /** Hub access token. @default $HF_TOKEN */
  token?: string;
  /** Download progress for hub models. */
  onProgress?: (progress: DownloadProgress) => void;
  /** Called after every model call with its shape and duration, for tracing and benchmarks. */
  onBatch?: (batch: BatchTrace) => void;
  /**
   * A trained query adapter (`trainAdapter`, `evomem train`): its folder, its file, or a
   * loaded `QueryAdapter`. `embedQuery` returns projected queries; documents are unchanged.
   * Loading fails when it was trained on another model or dimension. `false`: none, not
   * even the model folder's default.
   * @default the model folder's own `adapter.json` when it has one that fits the graph and
   * dimensions (the offline default model ships one), else none
   */
  adapter?: string | QueryAdapter | false;
}

/** One model call, as reported to `onBatch`. */
export interface BatchTrace {
  rows: number;
  /** Padded sequence length of the call. */
  seqLen: number;
  /** Wall time of the onnxruntime run, in milliseconds. */
  ms: number;
}

export interface EmbedOptions {
  /** Cancels this call: it rejects with the signal's reason and its queued texts are skipped. */
  signal?: AbortSignal;
}

/** A query adapter as `Encoder.load` takes it: a path, or a loaded adapter (checked by shape, so `Encoder` need not load the adapter module to tell). */
const adapterRule: OptionRule = {
  expect: 'an adapter folder or adapter.json path, a loaded QueryAdapter, or false for none',
  test: (v) => v === false || (typeof v === 'string' && v.length > 0) || (typeof v === 'object' && v !== null && typeof (v as QueryAdapter).apply === 'function' && typeof (v as QueryAdapter).checkModel === 'function'),
};

const ENCODER_SPEC = {
  model: is.nonEmptyString,
  device: is.oneOf('auto', 'cpu', 'cuda', 'webgpu'),
  deviceId: is.int(0),
  threads: is.int(1),
  dtype: is.oneOf(...Object.keys(ONNX_FILE_BY_DTYPE)),
  modelFile: is.nonEmptyString,
  optimize: is.boolean,
  quantization: is.object,
  maxLength: is.int(1),
  overflow: is.oneOf('truncate', 'error', 'chunk'),
  pooling: is.oneOf('mean', 'cls', 'lastToken'),
  normalize: is.boolean,
  dimensions: is.int(1),
  queryPrompt: is.string,
  documentPrompt: is.string,
  maxBatchTokens: is.int(1),
  maxBatchSize: is.int(1),
  revision: is.nonEmptyString,
  cacheDir: is.nonEmptyString,
  offline: is.boolean,
  hubEndpoint: is.nonEmptyString,
  token: is.string,
  onProgress: is.function,
  onBatch: is.function,
  adapter: adapterRule,
};

const EMBED_SPEC = { signal: { expect: 'an AbortSignal', test: (v: unknown) => v instanceof AbortSignal } };

/** Checks `Encoder.load`'s options: every key known (a typo names the nearest), every value of its kind. */
export function checkEncoderOptions(options: EncoderOptions | undefined): EncoderOptions {
  const checked = checkOptions<EncoderOptions>('Encoder.load', options, ENCODER_SPEC);
  if (checked.quantization) {
    checkOptions('Encoder.load quantization', checked.quantization, { reduceRange: is.boolean });
    if (checked.dtype !== 'int8') throw new EvomemError('INVALID_OPTION', `Encoder.load: option 'quantization' applies to dtype 'int8' only; dtype is '${checked.dtype ?? 'fp32'}'. Pass dtype: 'int8', or drop quantization.`);
  }
  if (checked.optimize === true && checked.dtype === 'int8') {
    throw new EvomemError('INVALID_OPTION', "Encoder.load: option 'optimize' fuses fp32 graphs; int8 graphs are not fused (measured slower). Drop optimize, or pass dtype: 'fp32'.");
  }
  return checked;
}

/** Checks the options of one `embed*` call; `where` names the method. */
export function checkEmbedOptions(where: string, options: EmbedOptions | undefined): EmbedOptions {
  return checkOptions<EmbedOptions>(where, options, EMBED_SPEC);
}

/**
 * The longest input in tokens: `maxLength` when given, refused above the model's limit
 * (its position table, or the tokenizer's `model_max_length`, whichever is smaller) and
 * when it leaves no room beside the special tokens; else the folder's default.
 */
export function resolveMaxLength(maxLength: number | undefined, folder: ModelFolder, specialTokens: number): number {
  if (maxLength === undefined) return folder.maxLength;
  const limit = folder.lengthLimit;
  if (limit !== undefined && maxLength > limit.tokens) {
    throw new EvomemError(
      'INVALID_OPTION',
      `Encoder.load: option 'maxLength' is ${maxLength}, but ${folder.dir} takes at most ${limit.tokens} tokens (${limit.source}). Pass maxLength ${limit.tokens} or less, or omit it for the model's default (${folder.maxLength}); use overflow: 'chunk' to embed longer texts whole.`,
    );
  }
  if (maxLength <= specialTokens) {
    throw new EvomemError('INVALID_OPTION', `Encoder.load: option 'maxLength' is ${maxLength}, which leaves no room beside the model's ${specialTokens} special tokens. Pass at least ${specialTokens + 1}.`);
  }
  return maxLength;
}
