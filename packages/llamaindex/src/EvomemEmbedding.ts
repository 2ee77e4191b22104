import { Encoder, type EncoderOptions } from '@evomem/core';
import { BaseEmbedding } from '@llamaindex/core/embeddings';
import type { MessageContentDetail } from '@llamaindex/core/llms';
import { extractSingleText } from '@llamaindex/core/utils';

export interface EvomemEmbeddingOptions {
  /** Encoder settings (`model`, `device`, ...). @default the offline default model */
  encoder?: EncoderOptions;
  /** An encoder already loaded, shared instead of loading another. */
  encoderInstance?: Encoder;
  /** Texts per `getTextEmbeddings` call when LlamaIndex embeds nodes. @default 64 */
  embedBatchSize?: number;
}

/**
 * LlamaIndex `BaseEmbedding` on evomem's local encoder: nodes are embedded in real batches
 * with the document prompt, queries with the query prompt.
 *
 * @example
 * Settings.embedModel = new EvomemEmbedding();
 * const index = await VectorStoreIndex.fromDocuments(documents);
 */
export class EvomemEmbedding extends BaseEmbedding {
  readonly #encoderOptions: EncoderOptions | undefined;
  #encoder: Promise<Encoder> | undefined;

  constructor(options: EvomemEmbeddingOptions = {}) {
    super();
    this.#encoderOptions = options.encoder;
    if (options.encoderInstance) this.#encoder = Promise.resolve(options.encoderInstance);
    this.embedBatchSize = options.embedBatchSize ?? 64;
    // BaseEmbedding assigns getTextEmbeddings per instance in its constructor, so the
    // override has to be an instance property set after super().
    this.getTextEmbeddings = async (texts: string[]) => (await (await this.encoder()).embedDocuments(texts)).map((v) => Array.from(v));
  }

  /** The underlying encoder, loaded on first use. */
  encoder(): Promise<Encoder> {
    this.#encoder ??= Encoder.load(this.#encoderOptions);
    return this.#encoder;
  }

  async getTextEmbedding(text: string): Promise<number[]> {
    return (await this.getTextEmbeddings([text]))[0]!;
  }

  override async getQueryEmbedding(query: MessageContentDetail): Promise<number[] | null> {
    const text = extractSingleText(query);
    return text === null ? null : Array.from(await (await this.encoder()).embedQuery(text));
  }
}
