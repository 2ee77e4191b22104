import { Encoder, EvomemError, openSearchIndex, segmentMeta, type OpenSearchIndexOptions, type SearchIndex } from '@evomem/core';
import type { QueryBundle } from '@llamaindex/core/query-engine';
import { BaseRetriever } from '@llamaindex/core/retriever';
import { MetadataMode, type BaseNode, type NodeWithScore } from '@llamaindex/core/schema';
import type { BaseDocumentStore } from '@llamaindex/core/storage/doc-store';
import { extractText } from '@llamaindex/core/utils';
import { VectorStoreQueryMode, type BaseVectorStore, type MetadataFilters, type VectorStoreByType } from '@llamaindex/core/vector-store';
import { EvolvingVectorStore } from './EvolvingVectorStore.js';

/** A `VectorStoreIndex` (from `llamaindex`), or anything with its `vectorStores` and `docStore`. */
export interface VectorStoreIndexLike {
  vectorStores: VectorStoreByType;
  docStore: BaseDocumentStore;
}

export interface EvomemRetrieverOptions extends OpenSearchIndexOptions {
  /** Nodes returned per query. @default 5 */
  similarityTopK?: number;
  /**
   * Query this vector store, or the text store of this `VectorStoreIndex`, with evomem's
   * query encoding instead of searching evomem's own index: an `EvolvingVectorStore`'s
   * memory encodes the queries, any other store's queries use `encoder`/`encoderInstance`
   * (query prompt and adapter applied). Pass the index when the store keeps no text
   * (`SimpleVectorStore`): nodes are then read from its document store. Retrieval is dense;
   * the search options (`mode`, `fusion`, `weights`, `rrfK`, `bm25`, `backend`, `evolving`)
   * do not apply.
   * @default undefined (evomem's own in-process index, the retrieval pipeline by default)
   */
  vectorStore?: BaseVectorStore | VectorStoreIndexLike;
  /** Metadata filters for the vector store's query, e.g. one user's nodes. Only with `vectorStore`. @default none */
  filters?: MetadataFilters;
  /**
   * The stream a query is read out against, when the memory has `queryReadout`. Only with an
   * `EvolvingVectorStore`.
   * @default the store's `stream` when that is one fixed id
   */
  stream?: string;
}

const SEARCH_ONLY = ['mode', 'parts', 'fusionWeights', 'fusion', 'weights', 'rrfK', 'bm25', 'backend', 'evolving'] as const;

/**
 * A LlamaIndex retriever returning `NodeWithScore[]`, usable in a `RetrieverQueryEngine`. By
 * default it searches evomem's own index with the retrieval pipeline (BM25 and dense scores
 * with neighbour, session, speaker and date signals; or `mode` hybrid, dense, bm25), with static or evolving (context-aware) embeddings (`backend`; node metadata
 * `speaker`, `session`, `timestamp` are used when present). With `vectorStore` it queries any
 * LlamaIndex vector store, e.g. an `EvolvingVectorStore`, with evomem's query encoding.
 *
 * @example
 * const retriever = await EvomemRetriever.fromNodes(nodes, { similarityTopK: 3 });
 * const hits = await retriever.retrieve({ query: 'What dog did Theo adopt?' });
 * // or over the vector store of a VectorStoreIndex:
 * const overStore = new EvomemRetriever({ vectorStore: index, similarityTopK: 3 });
 */
export class EvomemRetriever extends BaseRetriever {
  similarityTopK: number;
  readonly #nodes: BaseNode[] = [];
  readonly #index: Promise<SearchIndex> | undefined;
  readonly #store: { vectorStore: BaseVectorStore; docStore: BaseDocumentStore | undefined } | undefined;
  readonly #options: EvomemRetrieverOptions;
  #encoder: Promise<Encoder> | undefined;

  constructor(options: EvomemRetrieverOptions = {}) {
    super();
    const { similarityTopK, vectorStore, filters, stream, ...index } = options;
    this.similarityTopK = similarityTopK ?? 5;
    this.#options = options;
    if (vectorStore) this.#store = openStore(vectorStore, options);
    else {
      const stray = (['filters', 'stream'] as const).filter((k) => options[k] !== undefined);
      if (stray.length) throw new EvomemError('INVALID_OPTION', `EvomemRetriever ${stray.join(' and ')} apply to a vector store; pass vectorStore too, or drop ${stray.join(' and ')}.`);
      this.#index = openSearchIndex(index);
    }
  }

  /** A retriever holding `nodes` (documents or chunks), in order. */
  static async fromNodes(nodes: BaseNode[], options: EvomemRetrieverOptions = {}): Promise<EvomemRetriever> {
    const retriever = new EvomemRetriever(options);
    await retriever.add(nodes);
    return retriever;
  }

  /** Indexes more nodes, by their embeddable content (evomem's own index only). */
  async add(nodes: BaseNode[]): Promise<void> {
    if (!this.#index) {
      throw new EvomemError('INVALID_OPTION', 'This EvomemRetriever reads a vector store; insert nodes through its index (index.insertNodes(nodes)) or the store itself.');
    }
    await (await this.#index).add(
      nodes.map((n) => n.getContent(MetadataMode.EMBED)),
      nodes.map((n) => segmentMeta(n.id_, n.metadata)),
    );
    this.#nodes.push(...nodes);
  }

  async _retrieve(params: QueryBundle): Promise<NodeWithScore[]> {
    const query = extractText(params.query);
    if (this.#index) {
      const hits = await (await this.#index).search(query, this.similarityTopK);
      return hits.map(({ index, score }) => ({ node: this.#nodes[index]!, score }));
    }
    const { vectorStore, docStore } = this.#store!;
    const result = await vectorStore.query({
      queryStr: query,
      queryEmbedding: Array.from(await this.#embedQuery(vectorStore, query)),
      similarityTopK: this.similarityTopK,
      mode: VectorStoreQueryMode.DEFAULT,
      filters: this.#options.filters,
    });
    const nodes = await Promise.all(result.ids.map(async (id, i) => result.nodes?.[i] ?? (await fromDocStore(docStore, id))));
    return nodes.map((node, i) => ({ node, score: result.similarities[i] }));
  }

  #embedQuery(vectorStore: BaseVectorStore, query: string): Promise<Float32Array> {
    if (vectorStore instanceof EvolvingVectorStore) return vectorStore.embedQuery(query, this.#options.stream);
    const { encoder, encoderInstance } = this.#options;
    this.#encoder ??= encoderInstance ? Promise.resolve(encoderInstance) : Encoder.load(encoder);
    return this.#encoder.then((e) => e.embedQuery(query));
  }
}

function openStore(target: BaseVectorStore | VectorStoreIndexLike, options: EvomemRetrieverOptions): { vectorStore: BaseVectorStore; docStore: BaseDocumentStore | undefined } {
  const stray = SEARCH_ONLY.filter((k) => options[k] !== undefined);
  if (stray.length) {
    throw new EvomemError('INVALID_OPTION', `EvomemRetriever over a vector store retrieves densely; ${stray.join(', ')} apply to evomem's own index. Drop them, or drop vectorStore.`);
  }
  const isIndex = 'vectorStores' in target;
  const vectorStore = isIndex ? target.vectorStores.TEXT : target;
  if (!vectorStore) throw new EvomemError('INVALID_OPTION', 'EvomemRetriever vectorStore: the index has no text vector store (vectorStores.TEXT).');
  if (!isIndex && !vectorStore.storesText) {
    throw new EvomemError(
      'INVALID_OPTION',
      `EvomemRetriever vectorStore: ${vectorStore.constructor.name} keeps no text, so its results are ids without nodes. Pass the VectorStoreIndex over it (vectorStore: index) to read the nodes from its document store.`,
    );
  }
  return { vectorStore, docStore: isIndex ? target.docStore : undefined };
}

async function fromDocStore(docStore: BaseDocumentStore | undefined, id: string): Promise<BaseNode> {
  try {
    return await docStore!.getNode(id);
  } catch (error) {
    throw new EvomemError('STATE_INVALID', `The vector store returned node ${JSON.stringify(id)} without its content, and the index's document store does not hold it: the two are out of step. Insert the node again through the index.`, { cause: error });
  }
}
