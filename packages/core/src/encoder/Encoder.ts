import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ADAPTER_FILE, QueryAdapter, type AdapterModel } from '../adapter/QueryAdapter.js';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { EvomemError } from '../errors.js';
import { describeValue } from '../util/options.js';
import { isBlank } from '../util/text.js';
import { BatchScheduler } from './BatchScheduler.js';
import { checkEmbedOptions, checkEncoderOptions, resolveMaxLength, type BatchTrace, type EmbedOptions, type EncoderOptions } from './encoderOptions.js';
import { locateModel } from './locateModel.js';
import { readModelFolder, type ModelFolder, type PoolingMode } from './modelFolder.js';
import { normalizeInPlace, poolTokens } from './pooling.js';
import { agreement } from './graph/agreement.js';
import { fileFingerprint, prepareGraph, type PreparedGraph } from './graph/derivedGraph.js';
import { loadOrt, openSession, plannedDevice, type Device } from './session.js';
import { TextTokenizer, type OverflowPolicy, type TokenRow } from './TextTokenizer.js';

export type { BatchTrace, EmbedOptions, EncoderOptions } from './encoderOptions.js';
export { DEFAULT_MODEL_PACKAGE } from './locateModel.js';

/** Counters of the work done so far, for tuning and benchmarks. */
export interface EncoderStats {
  /** Model calls made. */
  batches: number;
  /** Token rows encoded (a chunked text counts once per chunk). */
  rows: number;
  /** Tokens of real input, special tokens included. */
  realTokens: number;
  /** Tokens the model computed, padding included. */
  executedTokens: number;
}

/** Many embeddings in one contiguous row-major buffer. */
export interface EmbeddingMatrix {
  /** `rows * dimensions` values, row-major. */
  data: Float32Array;
  rows: number;
  dimensions: number;
}

/** Prompts of model families whose folders often lack `config_sentence_transformers.json`. */
const FAMILY_PROMPTS: { pattern: RegExp; query: string; document?: string }[] = [
  { pattern: /bge-(small|base|large)-en/i, query: 'Represent this sentence for searching relevant passages: ' },
  { pattern: /(^|[/_-])e5-(small|base|large)|multilingual-e5/i, query: 'query: ', document: 'passage: ' },
];

const POOLED_OUTPUTS = ['sentence_embedding', 'sentence_embeddings', 'pooler_output_normalized'];
const TOKEN_OUTPUTS = ['last_hidden_state', 'token_embeddings'];

/**
 * A sentence encoder over any Hugging Face ONNX export, on onnxruntime-node.
 *
 * Concurrent calls share batches; texts are grouped by token length so little compute
 * goes to padding; vectors come back in input order.
 *
 * @example
 * const encoder = await Encoder.load({ model: 'Xenova/bge-small-en-v1.5' });
 * const [doc] = await encoder.embedDocuments(['Caroline went to the LGBTQ support group on 7 May.']);
 * const query = await encoder.embedQuery('When did Caroline go to the support group?');
 */
export class Encoder {
  /** The model folder in use. */
  readonly modelPath: string;
  /** The device inference runs on, after `auto` is resolved. */
  readonly device: Exclude<Device, 'auto'>;
  /** Longest input in tokens. */
  readonly maxLength: number;
  /** Length of every returned vector. */
  readonly dimensions: number;
  readonly pooling: PoolingMode;
  readonly queryPrompt: string;
  readonly documentPrompt: string;
  /** The model as named: hub id, folder name, or the default model's package. */
  readonly modelId: string;
  #adapter: QueryAdapter | undefined;

  /** The graph that runs: the exported file, or evomem's fused or int8 rewrite of it, and the source it came from. */
  readonly graph: PreparedGraph;
  #fingerprint: Promise<string> | undefined;
  readonly #session: InferenceSession;
  readonly #tokenizer: TextTokenizer;
  readonly #scheduler: BatchScheduler;
  readonly #overflow: OverflowPolicy;
  readonly #normalize: boolean;
  readonly #width: number;
  readonly #pooledOutput: string | undefined;
  readonly #tokenOutput: string;
  readonly #feedsTokenTypes: boolean;
  readonly #onBatch: ((batch: BatchTrace) => void) | undefined;
  readonly #stats: EncoderStats = { batches: 0, rows: 0, realTokens: 0, executedTokens: 0 };
  #disposed = false;

  private constructor(init: {
    folder: ModelFolder;
    graph: PreparedGraph;
    session: InferenceSession;
    device: Exclude<Device, 'auto'>;
    tokenizer: TextTokenizer;
    width: number;
    options: EncoderOptions;
    modelName: string;
    maxLength: number;
  }) {
    const { folder, session, options } = init;
    this.modelPath = folder.dir;
    this.modelId = init.modelName;
    this.graph = init.graph;
    this.device = init.device;
    this.#session = session;
    this.#tokenizer = init.tokenizer;
    this.#width = init.width;
    this.maxLength = init.maxLength;
    this.#overflow = options.overflow ?? 'truncate';
    this.#normalize = options.normalize ?? true;
    this.pooling = options.pooling ?? folder.pooling ?? 'mean';
    this.dimensions = options.dimensions ?? init.width;
    this.#pooledOutput = POOLED_OUTPUTS.find((name) => session.outputNames.includes(name));
    this.#tokenOutput = TOKEN_OUTPUTS.find((name) => session.outputNames.includes(name)) ?? session.outputNames[0]!;
    this.#feedsTokenTypes = session.inputNames.includes('token_type_ids');
    this.#onBatch = options.onBatch;
    const family = FAMILY_PROMPTS.find((f) => f.pattern.test(init.modelName));
    this.queryPrompt = options.queryPrompt ?? folder.prompts.query ?? family?.query ?? '';
    this.documentPrompt = options.documentPrompt ?? folder.prompts.document ?? family?.document ?? '';
    this.#scheduler = new BatchScheduler((rows, seqLen) => this.#runBatch(rows, seqLen), init.width, {
      maxBatchTokens: options.maxBatchTokens ?? (init.device === 'cpu' ? 1024 : 8192),
      maxBatchSize: options.maxBatchSize ?? 256,
    });
  }

  /** Loads a model (local folder, hub id, or the offline default) and opens its session. */
  static async load(options: EncoderOptions = {}): Promise<Encoder> {
    checkEncoderOptions(options);
    const { dir, name } = await locateModel(options);
    const folder = await readModelFolder(dir, {
      ...(options.dtype ? { dtype: options.dtype } : {}),
      ...(options.modelFile ? { modelFile: options.modelFile } : {}),
    });
    let tokenizer: TextTokenizer;
    try {
      tokenizer = new TextTokenizer(folder.tokenizerJson, folder.tokenizerConfig);
    } catch (error) {
      const why = ((error as Error).cause as Error | undefined)?.message ?? (error as Error).message;
      throw new EvomemError('MODEL_FILE_INVALID', `${dir}/tokenizer.json could not be loaded as a Hugging Face tokenizer: ${why}`, { cause: error });
    }
    const maxLength = resolveMaxLength(options.maxLength, folder, tokenizer.specialCount);
    const graph = await runnableGraph(folder, tokenizer, maxLength, options);
    const { session, device } = await openSession(graph.path, {
      device: folder.quantize ? 'cpu' : (options.device ?? 'auto'),
      ...(options.threads !== undefined ? { threads: options.threads } : {}),
      ...(options.deviceId !== undefined ? { deviceId: options.deviceId } : {}),
    });
    if (!session.inputNames.includes('input_ids')) {
      await session.release();
      throw new EvomemError('MODEL_FILE_INVALID', `${folder.onnxPath} has inputs [${session.inputNames.join(', ')}]; a text encoder needs input_ids (and attention_mask).`);
    }
    const width = await probeWidth(session, tokenizer, folder.onnxPath);
    if (options.dimensions !== undefined && options.dimensions > width) {
      await session.release();
      throw new EvomemError('INVALID_OPTION', `dimensions ${options.dimensions} exceeds the model's width ${width}.`);
    }
    const encoder = new Encoder({ folder, graph, session, device, tokenizer, width, options, modelName: name, maxLength });
    if (options.adapter === false) return encoder;
    try {
      if (options.adapter === undefined) {
        encoder.#adapter = await folderAdapter(folder.dir, encoder);
        return encoder;
      }
      const adapter = typeof options.adapter === 'string' ? await QueryAdapter.load(options.adapter) : options.adapter;
      adapter.checkModel(await encoder.describeModel(), typeof options.adapter === 'string' ? `Adapter ${options.adapter}` : 'The adapter');
      encoder.#adapter = adapter;
      return encoder;
    } catch (error) {
      await session.release();
      throw error;
    }
  }

  /** The query adapter in use, if any. */
  get adapter(): QueryAdapter | undefined {
    return this.#adapter;
  }

  /**
   * What an adapter trained on this encoder records, and must match to be loaded: model
   * id, `sha256:` of the exported ONNX graph file, and output dimensions. A fused or int8
   * rewrite of that graph has its source's fingerprint: an adapter trained on the exported
   * graph applies to them (bench/results/encoder.json measures what int8 costs in recall).
   */
  async describeModel(): Promise<AdapterModel> {
    this.#fingerprint ??= this.graph.source.fingerprint !== undefined ? Promise.resolve(this.graph.source.fingerprint) : fileFingerprint(this.graph.source.path);
    return { id: this.modelId, fingerprint: await this.#fingerprint, dimensions: this.dimensions };
  }

  /** Embeds texts as they are, with no prompt. One vector per text, in input order. */
  async embed(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return rowsOf(await this.#embed(texts, '', options, 'Encoder.embed'));
  }

  /** Embeds texts to be searched (memories, documents), with the model's document prompt. */
  async embedDocuments(texts: readonly string[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    return rowsOf(await this.#embed(texts, this.documentPrompt, options, 'Encoder.embedDocuments'));
  }

  /** Embeds one search query with the model's query prompt, projected by the adapter when one is loaded. */
  async embedQuery(text: string, options: EmbedOptions = {}): Promise<Float32Array> {
    if (typeof text !== 'string') throw new EvomemError('INVALID_OPTION', `Encoder.embedQuery takes one text (a string), got ${describeValue(text)}.`);
    const [vector] = rowsOf(await this.#embed([text], this.queryPrompt, options, 'Encoder.embedQuery'));
    return this.#adapter ? this.#adapter.apply(vector!, this.#normalize) : vector!;
  }

  /** Like `embed`, returning one contiguous row-major matrix for bulk work. */
  embedMatrix(texts: readonly string[], options: EmbedOptions = {}): Promise<EmbeddingMatrix> {
    return this.#embed(texts, '', options, 'Encoder.embedMatrix');
  }

  /** A snapshot of the work done so far. */
  get stats(): EncoderStats {
    return { ...this.#stats };
  }

  /** Number of tokens `text` becomes, special tokens included, before truncation (a blank text counts as empty). */
  countTokens(text: string): number {
    if (typeof text !== 'string') throw new EvomemError('INVALID_OPTION', `Encoder.countTokens takes a string, got ${describeValue(text)}.`);
    return this.#tokenizer.ids(isBlank(text) ? '' : text).length + this.#tokenizer.specialCount;
  }

  /** Frees the onnxruntime session. Later calls reject. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#session.release();
  }

  /**
   * Tokenizes and embeds `texts` after `prompt`. A blank text (white space only) is embedded
   * as the empty text, so every blank text gives one vector whatever the tokenizer makes of
   * white space. `where` names the method in errors.
   */
  async #embed(texts: readonly string[], prompt: string, options: EmbedOptions, where: string): Promise<EmbeddingMatrix> {
    if (this.#disposed) throw new EvomemError('DISPOSED', 'This Encoder was disposed; load a new one with Encoder.load().');
    if (!Array.isArray(texts)) throw new EvomemError('INVALID_OPTION', `${where} takes an array of strings, got ${describeValue(texts)}.`);
    checkEmbedOptions(where, options);
    const rows: TokenRow[] = [];
    const target: number[] = [];
    const weight: number[] = [];
    texts.forEach((text, index) => {
      if (typeof text !== 'string') throw new EvomemError('INVALID_OPTION', `${where}: texts[${index}] must be a string, got ${describeValue(text)}.`);
      const chunks = this.#tokenizer.encode(prompt + (isBlank(text) ? '' : text), this.maxLength, this.#overflow, index);
      for (const chunk of chunks) {
        rows.push(chunk);
        target.push(index);
        weight.push(chunks.length === 1 ? 1 : chunk.length);
      }
    });
    const pooled = await this.#scheduler.submit({ rows, target, weight, outputs: texts.length, signal: options.signal });
    return this.#finish(pooled, texts.length);
  }

  /** Matryoshka truncation, then normalization, into a fresh `[rows, dimensions]` buffer. */
  #finish(pooled: Float32Array, rows: number): EmbeddingMatrix {
    const dims = this.dimensions;
    const data = dims === this.#width ? pooled : new Float32Array(rows * dims);
    if (data !== pooled) for (let r = 0; r < rows; r++) data.set(pooled.subarray(r * this.#width, r * this.#width + dims), r * dims);
    if (this.#normalize) for (let r = 0; r < rows; r++) normalizeInPlace(data, r * dims, dims);
    return { data, rows, dimensions: dims };
  }

  async #runBatch(rows: TokenRow[], seqLen: number): Promise<Float32Array> {
    const ort = await loadOrt();
    const count = rows.length;
    const ids = new BigInt64Array(count * seqLen).fill(BigInt(this.#tokenizer.padId));
    const mask = new BigInt64Array(count * seqLen);
    const lengths = new Int32Array(count);
    this.#stats.batches++;
    this.#stats.rows += count;
    this.#stats.executedTokens += count * seqLen;
    rows.forEach((row, r) => {
      lengths[r] = row.length;
      this.#stats.realTokens += row.length;
      const base = r * seqLen;
      for (let t = 0; t < row.length; t++) {
        ids[base + t] = BigInt(row[t]!);
        mask[base + t] = 1n;
      }
    });
    const shape = [count, seqLen];
    const feeds: Record<string, Tensor> = {
      input_ids: new ort.Tensor('int64', ids, shape),
    };
    if (this.#session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, shape);
    if (this.#feedsTokenTypes) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(count * seqLen), shape);
    let result: InferenceSession.OnnxValueMapType;
    const started = performance.now();
    try {
      result = await this.#session.run(feeds);
      this.#onBatch?.({ rows: count, seqLen, ms: performance.now() - started });
    } catch (error) {
      throw new EvomemError('INFERENCE_FAILED', `onnxruntime failed on a batch of ${count} x ${seqLen} tokens from ${this.modelPath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (this.#pooledOutput) return Float32Array.from(result[this.#pooledOutput]!.data as Float32Array);
    const states = result[this.#tokenOutput]!.data as Float32Array;
    return poolTokens(this.pooling, states, count, seqLen, this.#width, lengths);
  }
}

/**
 * The graph to open: int8 when the folder's dtype asks evomem to quantize, fused when
 * `optimize` is on and the session will run on the CPU (the fused graph is checked on
 * the CPU; GPUs run the export as it is), else the exported file.
 */
async function runnableGraph(folder: ModelFolder, tokenizer: TextTokenizer, maxLength: number, options: EncoderOptions): Promise<PreparedGraph> {
  if (folder.quantize && options.device !== undefined && options.device !== 'auto' && options.device !== 'cpu') {
    throw new EvomemError('INVALID_OPTION', `dtype 'int8' runs on the CPU; device is '${options.device}'. Pass device: 'cpu' (or 'auto'), or dtype: 'fp32' on the GPU.`);
  }
  const onCpu = folder.quantize || plannedDevice(options.device ?? 'auto') === 'cpu';
  return prepareGraph(folder.onnxPath, {
    fuse: options.optimize === true && onCpu,
    int8: folder.quantize,
    ...(options.quantization?.reduceRange ? { reduceRange: true } : {}),
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    check: (derived) => agreement(folder.onnxPath, derived, tokenizer, maxLength, options.threads),
  });
}

function rowsOf(matrix: EmbeddingMatrix): Float32Array[] {
  return Array.from({ length: matrix.rows }, (_, r) => matrix.data.subarray(r * matrix.dimensions, (r + 1) * matrix.dimensions));
}

/** Runs one short input to learn the output width and to prove the graph runs. */
async function probeWidth(session: InferenceSession, tokenizer: TextTokenizer, path: string): Promise<number> {
  const ort = await loadOrt();
  const row = tokenizer.encode('probe', 512, 'truncate', 0)[0]!;
  const shape = [1, row.length];
  const feeds: Record<string, Tensor> = { input_ids: new ort.Tensor('int64', BigInt64Array.from(row.map(BigInt)), shape) };
  if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', new BigInt64Array(row.length).fill(1n), shape);
  if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(row.length), shape);
  try {
    const out = await session.run(feeds);
    const name = POOLED_OUTPUTS.find((n) => n in out) ?? TOKEN_OUTPUTS.find((n) => n in out) ?? session.outputNames[0]!;
    const dims = out[name]!.dims;
    return dims[dims.length - 1]!;
  } catch (error) {
    await session.release();
    throw new EvomemError('MODEL_FILE_INVALID', `${path} loaded but failed on a one-sentence input: ${(error as Error).message}. Is it a text encoder export?`, {
      cause: error,
    });
  }
}

/**
 * The model folder's own default adapter (`adapter.json` beside its configs), when it fits
 * the graph and dimensions loaded: another graph of the folder (a re-export, a quantized
 * file) or a truncated `dimensions` runs without it rather than failing to load. A file
 * that is there but damaged fails loudly.
 */
async function folderAdapter(dir: string, encoder: Encoder): Promise<QueryAdapter | undefined> {
  const file = join(dir, ADAPTER_FILE);
  if (!(await stat(file).then((s) => s.isFile(), () => false))) return undefined;
  const adapter = await QueryAdapter.load(file);
  const model = await encoder.describeModel();
  if (adapter.model.fingerprint === model.fingerprint && adapter.model.dimensions === model.dimensions) return adapter;
  if (!warnedSkippedAdapter.has(file)) {
    warnedSkippedAdapter.add(file);
    const why = adapter.model.dimensions !== model.dimensions ? `${adapter.model.dimensions}-d vectors, not ${model.dimensions}` : 'another graph';
    process.emitWarning(`${file} fits ${why}: queries run without the model's default adapter. Pass adapter: false to say so, or train one for this setup (evomem train).`, { code: 'EVOMEM_DEFAULT_ADAPTER_SKIPPED' });
  }
  return undefined;
}

const warnedSkippedAdapter = new Set<string>();
