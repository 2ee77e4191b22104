import { Encoder, EvolvingEncoder, SearchIndex, type EncoderOptions, type EvolvingOptions, type SearchIndexOptions } from '@evomem/core';
import type { Document } from '@langchain/core/documents';
import { BaseRetriever, type BaseRetrieverInput } from '@langchain/core/retrievers';

export interface EvomemRetrieverInput extends BaseRetrieverInput, Omit<SearchIndexOptions, 'encoder' | 'evolving'> {
  /** Encoder settings (`model`, `device`, ...). @default the offline default model */
  encoder?: EncoderOptions;
  /** An encoder already loaded, shared instead of loading another. */
  encoderInstance?: Encoder;
  /** Documents returned per query. @default 4 */
  k?: number;
  /**
   * `static`: each document embedded alone. `evolving`: documents are ingested in the order
   * added as a conversation, each embedding conditioned on the turns before it (metadata
   * `speaker`, `session`, `timestamp` are used when present).
   * @default 'static'
   */
  backend?: 'static' | 'evolving';
  /** Options of the evolving backend. */
  evolving?: EvolvingOptions;
}

/**
 * A LangChain retriever over evomem's own index (BM25 and dense fused by default), with
 * static or evolving (context-aware) embeddings. Each document comes back with its score
 * in `metadata.score`.
 *
 * @example
 * const retriever = await EvomemRetriever.fromDocuments(turns, { backend: 'evolving', k: 5 });
 * const docs = await retriever.invoke('What job did Maya's sister get?');
 */
export class EvomemRetriever extends BaseRetriever {
  lc_namespace = ['evomem', 'retrievers'];
  k: number;
  readonly #documents: Document[] = [];
  readonly #index: Promise<SearchIndex>;

  constructor(input: EvomemRetrieverInput = {}) {
    super(input);
    const { encoder, encoderInstance, k, backend, evolving, mode, fusion, weights, rrfK, bm25 } = input;
    this.k = k ?? 4;
    const search: SearchIndexOptions = {
      ...(mode ? { mode } : {}),
      ...(fusion ? { fusion } : {}),
      ...(weights ? { weights } : {}),
      ...(rrfK !== undefined ? { rrfK } : {}),
      ...(bm25 ? { bm25 } : {}),
    };
    this.#index = (async () => {
      const enc = encoderInstance ?? ((mode ?? 'hybrid') !== 'bm25' ? await Encoder.load(encoder) : undefined);
      if (enc && backend === 'evolving') return new SearchIndex({ ...search, evolving: new EvolvingEncoder(enc, evolving) });
      return new SearchIndex({ ...search, ...(enc ? { encoder: enc } : {}) });
    })();
  }

  static async fromDocuments(documents: Document[], input: EvomemRetrieverInput = {}): Promise<EvomemRetriever> {
    const retriever = new EvomemRetriever(input);
    await retriever.addDocuments(documents);
    return retriever;
  }

  async addDocuments(documents: Document[]): Promise<void> {
    const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
    const index = await this.#index;
    await index.add(
      documents.map((d) => d.pageContent),
      documents.map((d, i) => ({
        id: str(d.id) ?? `doc-${this.#documents.length + i}`,
        ...(str(d.metadata.speaker) ? { speaker: str(d.metadata.speaker)! } : {}),
        ...(str(d.metadata.session) ? { session: str(d.metadata.session)! } : {}),
        ...(str(d.metadata.timestamp) ? { timestamp: str(d.metadata.timestamp)! } : {}),
      })),
    );
    this.#documents.push(...documents);
  }

  override async _getRelevantDocuments(query: string): Promise<Document[]> {
    const hits = await (await this.#index).search(query, this.k);
    return hits.map(({ index, score }) => {
      const doc = this.#documents[index]!;
      return { ...doc, metadata: { ...doc.metadata, score } } as Document;
    });
  }
}
