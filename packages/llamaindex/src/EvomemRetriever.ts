import { Encoder, EvolvingEncoder, SearchIndex, type EncoderOptions, type EvolvingOptions, type SearchIndexOptions } from '@evomem/core';
import type { QueryBundle } from '@llamaindex/core/query-engine';
import { BaseRetriever } from '@llamaindex/core/retriever';
import { MetadataMode, type BaseNode, type NodeWithScore } from '@llamaindex/core/schema';
import { extractText } from '@llamaindex/core/utils';

export interface EvomemRetrieverOptions extends Omit<SearchIndexOptions, 'encoder' | 'evolving'> {
  /**
   * `static`: each node embedded alone. `evolving`: nodes are ingested in the order added as
   * a conversation, each embedding conditioned on the turns before it (metadata `speaker`,
   * `session`, `timestamp` are used when present).
   * @default 'static'
   */
  backend?: 'static' | 'evolving';
  /** Options of the evolving backend. */
  evolving?: EvolvingOptions;
  /** Encoder settings (`model`, `device`, ...). @default the offline default model */
  encoder?: EncoderOptions;
  /** An encoder already loaded, shared instead of loading another. */
  encoderInstance?: Encoder;
  /** Nodes returned per query. @default 5 */
  similarityTopK?: number;
}

/**
 * A LlamaIndex retriever over evomem's own index: BM25 and dense scores fused (or either
 * alone, `mode`), with static or evolving (context-aware) embeddings (`backend`), returning
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
    const { encoder, encoderInstance, similarityTopK, backend, evolving, ...search } = options;
    this.similarityTopK = similarityTopK ?? 5;
    const needsEncoder = (search.mode ?? 'hybrid') !== 'bm25';
    this.#index = (async () => {
      const enc = encoderInstance ?? (needsEncoder ? await Encoder.load(encoder) : undefined);
      if (enc && backend === 'evolving') return new SearchIndex({ ...search, evolving: new EvolvingEncoder(enc, evolving) });
      return new SearchIndex({ ...search, ...(enc ? { encoder: enc } : {}) });
    })();
  }

  /** A retriever holding `nodes` (documents or chunks). */
  static async fromNodes(nodes: BaseNode[], options: EvomemRetrieverOptions = {}): Promise<EvomemRetriever> {
    const retriever = new EvomemRetriever(options);
    await retriever.add(nodes);
    return retriever;
  }

  /** Indexes more nodes, by their embeddable content. */
  async add(nodes: BaseNode[]): Promise<void> {
    const index = await this.#index;
    const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : undefined);
    await index.add(
      nodes.map((n) => n.getContent(MetadataMode.EMBED)),
      nodes.map((n) => ({
        id: n.id_,
        ...(str(n.metadata.speaker) ? { speaker: str(n.metadata.speaker)! } : {}),
        ...(str(n.metadata.session) ? { session: str(n.metadata.session)! } : {}),
        ...(str(n.metadata.timestamp) ? { timestamp: str(n.metadata.timestamp)! } : {}),
      })),
    );
    this.#nodes.push(...nodes);
  }

  async _retrieve(params: QueryBundle): Promise<NodeWithScore[]> {
    const index = await this.#index;
    const hits = await index.search(extractText(params.query), this.similarityTopK);
    return hits.map(({ index: i, score }) => ({ node: this.#nodes[i]!, score }));
  }
}
