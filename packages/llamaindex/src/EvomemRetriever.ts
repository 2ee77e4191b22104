import { openSearchIndex, segmentMeta, type OpenSearchIndexOptions, type SearchIndex } from '@evomem/core';
import type { QueryBundle } from '@llamaindex/core/query-engine';
import { BaseRetriever } from '@llamaindex/core/retriever';
import { MetadataMode, type BaseNode, type NodeWithScore } from '@llamaindex/core/schema';
import { extractText } from '@llamaindex/core/utils';

export interface EvomemRetrieverOptions extends OpenSearchIndexOptions {
  /** Nodes returned per query. @default 5 */
  similarityTopK?: number;
}

/**
 * A LlamaIndex retriever over evomem's own index: BM25 and dense scores fused (or either
 * alone, `mode`), with static or evolving (context-aware) embeddings (`backend`; node
 * metadata `speaker`, `session`, `timestamp` are used when present), returning
 * `NodeWithScore[]`, usable in a `RetrieverQueryEngine`.
 *
 * @example
 * const retriever = await EvomemRetriever.fromNodes(nodes, { similarityTopK: 3 });
 * const hits = await retriever.retrieve({ query: 'What dog did Theo adopt?' });
 */
export class EvomemRetriever extends BaseRetriever {
  similarityTopK: number;
  readonly #nodes: BaseNode[] = [];
  readonly #index: Promise<SearchIndex>;

  constructor(options: EvomemRetrieverOptions = {}) {
    super();
    const { similarityTopK, ...index } = options;
    this.similarityTopK = similarityTopK ?? 5;
    this.#index = openSearchIndex(index);
  }

  /** A retriever holding `nodes` (documents or chunks), in order. */
  static async fromNodes(nodes: BaseNode[], options: EvomemRetrieverOptions = {}): Promise<EvomemRetriever> {
    const retriever = new EvomemRetriever(options);
    await retriever.add(nodes);
    return retriever;
  }

  /** Indexes more nodes, by their embeddable content. */
  async add(nodes: BaseNode[]): Promise<void> {
    await (await this.#index).add(
      nodes.map((n) => n.getContent(MetadataMode.EMBED)),
      nodes.map((n) => segmentMeta(n.id_, n.metadata)),
    );
    this.#nodes.push(...nodes);
  }

  async _retrieve(params: QueryBundle): Promise<NodeWithScore[]> {
    const hits = await (await this.#index).search(extractText(params.query), this.similarityTopK);
    return hits.map(({ index, score }) => ({ node: this.#nodes[index]!, score }));
  }
}
