import { openSearchIndex, segmentMeta, type OpenSearchIndexOptions, type SearchIndex } from '@evomem/core';
import type { Document } from '@langchain/core/documents';
import { BaseRetriever, type BaseRetrieverInput } from '@langchain/core/retrievers';

export interface EvomemRetrieverInput extends BaseRetrieverInput, OpenSearchIndexOptions {
  /** Documents returned per query. @default 4 */
  k?: number;
}

/**
 * A LangChain retriever over evomem's own index (the retrieval pipeline by default: BM25
 * and dense scores with neighbour, session, speaker and date signals), with static or evolving (context-aware) embeddings (`backend`; document metadata `speaker`,
 * `session`, `timestamp` are used when present). Each document comes back with its score
 * in `metadata.score`.
 *
 * @example
 * const retriever = await EvomemRetriever.fromDocuments(turns, { backend: 'evolving', k: 5 });
 * const docs = await retriever.invoke("What job did Maya's sister get?");
 */
export class EvomemRetriever extends BaseRetriever {
  lc_namespace = ['evomem', 'retrievers'];
  k: number;
  readonly #documents: Document[] = [];
  readonly #index: Promise<SearchIndex>;

  constructor(input: EvomemRetrieverInput = {}) {
    super(input);
    const { k, callbacks, tags, metadata, verbose, ...index } = input;
    this.k = k ?? 4;
    this.#index = openSearchIndex(index);
  }

  static async fromDocuments(documents: Document[], input: EvomemRetrieverInput = {}): Promise<EvomemRetriever> {
    const retriever = new EvomemRetriever(input);
    await retriever.addDocuments(documents);
    return retriever;
  }

  /** Indexes more documents, in order. */
  async addDocuments(documents: Document[]): Promise<void> {
    await (await this.#index).add(
      documents.map((d) => d.pageContent),
      documents.map((d, i) => segmentMeta(d.id ?? `doc-${this.#documents.length + i}`, d.metadata)),
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
