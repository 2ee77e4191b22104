import { Encoder, type EncoderOptions } from '@evomem/core';
import { Embeddings, type EmbeddingsParams } from '@langchain/core/embeddings';

export interface EvomemEmbeddingsParams extends EmbeddingsParams {
  /** Encoder settings (`model`, `device`, ...). @default the offline default model on `auto` */
  encoder?: EncoderOptions;
  /** An encoder already loaded, shared instead of loading another. */
  encoderInstance?: Encoder;
  /**
   * Retries of a failed call. A local model fails the same way every time, so errors
   * surface at once unless you ask for retries (LangChain's default is 6).
   * @default 0
   */
  maxRetries?: number;
}

/**
 * LangChain `Embeddings` on evomem's local encoder. `embedDocuments` uses the model's
 * document prompt, `embedQuery` its query prompt.
 *
 * @example
 * const embeddings = await EvomemEmbeddings.create(); // offline default model
 * const store = await MemoryVectorStore.fromDocuments(docs, embeddings);
 */
export class EvomemEmbeddings extends Embeddings {
  /** Vector length; set once the encoder is loaded (at once with `create`). */
  embeddingDimension: number | undefined;
  readonly #encoderOptions: EncoderOptions | undefined;
  readonly #retries: boolean;
  #encoder: Promise<Encoder> | undefined;

  constructor(params: EvomemEmbeddingsParams = {}) {
    const { encoder, encoderInstance, ...callerParams } = params;
    super({ ...callerParams, maxRetries: params.maxRetries ?? 0 });
    this.#encoderOptions = encoder;
    this.#retries = (params.maxRetries ?? 0) > 0;
    if (encoderInstance) {
      this.#encoder = Promise.resolve(encoderInstance);
      this.embeddingDimension = encoderInstance.dimensions;
    }
  }

  /** Loads the encoder first, so `embeddingDimension` is known (Mem0's LangChain store reads it). */
  static async create(params: EvomemEmbeddingsParams = {}): Promise<EvomemEmbeddings> {
    const embeddings = new EvomemEmbeddings(params);
    await embeddings.encoder();
    return embeddings;
  }

  /** The underlying encoder, loaded on first use. */
  encoder(): Promise<Encoder> {
    this.#encoder ??= Encoder.load(this.#encoderOptions).then((e) => {
      this.embeddingDimension = e.dimensions;
      return e;
    });
    return this.#encoder;
  }

  async embedDocuments(documents: string[]): Promise<number[][]> {
    return this.#call(async () => (await (await this.encoder()).embedDocuments(documents)).map((v) => Array.from(v)));
  }

  async embedQuery(document: string): Promise<number[]> {
    return this.#call(async () => Array.from(await (await this.encoder()).embedQuery(document)));
  }

  #call<T>(fn: () => Promise<T>): Promise<T> {
    return this.#retries ? this.caller.call(fn) : fn();
  }
}
