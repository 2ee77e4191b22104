import { EvomemError, segmentMeta, type EvolvingMemory, type Segment } from '@evomem/core';
import { BaseEmbedding } from '@llamaindex/core/embeddings';
import { MetadataMode, type BaseNode } from '@llamaindex/core/schema';
import { BaseVectorStore, type VectorStoreQuery, type VectorStoreQueryResult } from '@llamaindex/core/vector-store';

export interface EvolvingVectorStoreOptions {
  /**
   * The evolving memory that embeds the nodes and keeps each stream's state, in its state
   * store (`openStateStore('sqlite:./evomem.db')` for state that outlives the process).
   * Required; there is no default.
   */
  memory: EvolvingMemory;
  /**
   * The stream a node is ingested into (a user or a conversation): one id for every node,
   * or a function of the node. Nodes of one stream are embedded in the order they are added.
   * @default 'default'
   */
  stream?: string | ((node: BaseNode) => string);
  /**
   * A metadata key whose value names each node's stream (e.g. `'userId'`); every node must
   * carry it. Use this or `stream`, not both.
   * @default undefined (`stream` decides)
   */
  streamKey?: string;
}

/**
 * Any LlamaIndex vector store, with evolving (context-aware) embeddings: `add(nodes)` ingests
 * the nodes, in order, into their stream of an `EvolvingMemory` (node id = segment id; text
 * as LlamaIndex embeds it; `speaker`, `session`, `timestamp` from metadata) and writes them,
 * with those embeddings, to the wrapped store before the stream's state commits. A failed
 * write commits nothing. `VectorStoreIndex` embeds nodes with the store's `embedModel`
 * before `add`; this store's leaves them alone, so nothing is embedded twice.
 *
 * @example
 * const memory = new EvolvingMemory(new EvolvingEncoder(encoder), { store: await openStateStore('sqlite:./evomem.db') });
 * const vectorStore = new EvolvingVectorStore(new SimpleVectorStore(), { memory });
 * const index = await VectorStoreIndex.fromVectorStore(vectorStore);
 * await index.insertNodes(nodes);
 */
export class EvolvingVectorStore<Client = unknown, T = unknown> extends BaseVectorStore<Client, T> {
  /** The wrapped store, which holds the vectors. */
  readonly vectorStore: BaseVectorStore<Client, T>;
  readonly memory: EvolvingMemory;
  readonly #streamOf: (node: BaseNode) => unknown;
  readonly #fixedStream: string | undefined;
  /** Where stream ids come from, for errors. */
  readonly #streamSource: string;

  constructor(vectorStore: BaseVectorStore<Client, T>, options: EvolvingVectorStoreOptions) {
    // Duck-typed: a second copy of @llamaindex/core would fail instanceof.
    if (typeof vectorStore?.add !== 'function' || typeof vectorStore.query !== 'function') {
      throw new EvomemError('INVALID_OPTION', `EvolvingVectorStore wraps a LlamaIndex vector store (a BaseVectorStore such as SimpleVectorStore), got ${describe(vectorStore)}.`);
    }
    if (!options?.memory) {
      throw new EvomemError('INVALID_OPTION', 'EvolvingVectorStore needs options.memory: new EvolvingMemory(new EvolvingEncoder(encoder), { store: await openStateStore(...) }).');
    }
    const { memory, stream = 'default', streamKey } = options;
    if (streamKey !== undefined && options.stream !== undefined) {
      throw new EvomemError('INVALID_OPTION', `EvolvingVectorStore takes stream or streamKey, not both (got stream and streamKey ${JSON.stringify(streamKey)}).`);
    }
    if (stream === '') throw new EvomemError('INVALID_OPTION', "EvolvingVectorStore stream must be a non-empty id (a user or conversation id), got ''.");
    super({ embedModel: new InOrderEmbedding(memory) });
    this.vectorStore = vectorStore;
    this.memory = memory;
    this.#fixedStream = streamKey === undefined && typeof stream === 'string' ? stream : undefined;
    this.#streamSource = streamKey !== undefined ? `metadata.${streamKey} (streamKey)` : 'the stream function';
    this.#streamOf = streamKey !== undefined ? (node) => node.metadata[streamKey] : typeof stream === 'string' ? () => stream : stream;
  }

  // VectorStoreIndex keeps nodes in its document store when the vector store keeps no text.
  get storesText(): boolean {
    return this.vectorStore.storesText;
  }

  client(): Client {
    return this.vectorStore.client();
  }

  /**
   * Ingests the nodes into their streams, in order, and writes them with their evolving
   * embeddings to the wrapped store; returns the store's ids in node order. Any embeddings the
   * nodes carry are replaced. The write runs before the stream's state commits, so a failed
   * write leaves the stream as it was; it may run again after a race with another process, so
   * the wrapped store must write by node id. An add spanning several streams commits stream by
   * stream.
   */
  async add(nodes: BaseNode[]): Promise<string[]> {
    const groups = new Map<string, number[]>();
    nodes.forEach((node, i) => {
      const stream = this.#stream(node);
      const positions = groups.get(stream);
      if (positions) positions.push(i);
      else groups.set(stream, [i]);
    });
    const ids: string[] = nodes.map((n) => n.id_);
    for (const [stream, positions] of groups) {
      const written = await this.#ingest(stream, positions.map((i) => nodes[i]!));
      positions.forEach((i, j) => (ids[i] = written[j] ?? ids[i]!));
    }
    return ids;
  }

  /** Deletes from the wrapped store. The streams keep their state: ids stay taken, and later turns stay conditioned on the deleted ones. */
  delete(refDocId: string, deleteOptions?: object): Promise<void> {
    return this.vectorStore.delete(refDocId, deleteOptions);
  }

  query(query: VectorStoreQuery<T>, options?: object): Promise<VectorStoreQueryResult> {
    return this.vectorStore.query(query, options);
  }

  /**
   * A query encoded for this store's vectors (the encoder's query prompt and adapter), read out
   * against `stream`'s memory when the memory has `queryReadout`.
   * @param stream defaults to the store's `stream` when that is one fixed id
   */
  embedQuery(text: string, stream: string | undefined = this.#fixedStream): Promise<Float32Array> {
    return this.memory.embedQuery(text, stream);
  }

  #stream(node: BaseNode): string {
    const stream = this.#streamOf(node);
    if ((typeof stream === 'string' && stream !== '') || typeof stream === 'number') return String(stream);
    throw new EvomemError(
      'SEGMENT_INVALID',
      `Node ${JSON.stringify(node.id_)} has no stream id: ${this.#streamSource} gave ${JSON.stringify(stream) ?? 'undefined'}. Give every node a non-empty string id (a user or conversation id).`,
    );
  }

  async #ingest(stream: string, nodes: BaseNode[]): Promise<string[]> {
    const segments: Segment[] = nodes.map((n) => ({ ...segmentMeta(n.id_, n.metadata), text: n.getContent(MetadataMode.EMBED) }));
    let ids: string[] = [];
    await this.memory.ingest(stream, segments, {
      beforeCommit: async ({ embeddings }) => {
        const previous = nodes.map((n) => n.embedding);
        nodes.forEach((n, i) => (n.embedding = Array.from(embeddings[i]!)));
        try {
          ids = await this.vectorStore.add(nodes);
        } catch (error) {
          nodes.forEach((n, i) => (n.embedding = previous[i]));
          throw new EvomemError(
            'STORE_UNAVAILABLE',
            `Writing ${nodes.length} node(s) of stream ${stream} (first ${JSON.stringify(nodes[0]!.id_)}) to ${this.vectorStore.constructor.name} failed: ${(error as Error)?.message ?? error}. Nothing was committed to the stream; fix the vector store and insert the nodes again.`,
            { cause: error },
          );
        }
      },
    });
    return ids;
  }
}

/**
 * The store's `embedModel`. `VectorStoreIndex` embeds nodes with it before `add`
 * (indices `getNodeEmbeddingResults`); it passes them on unembedded because `add` embeds
 * them in order. A lone text (LlamaIndex's vector memory embeds queries this way) gets the
 * query encoding, the only one that matches the stored vectors.
 */
class InOrderEmbedding extends BaseEmbedding {
  readonly #memory: EvolvingMemory;

  constructor(memory: EvolvingMemory) {
    super(async (nodes) => nodes);
    this.#memory = memory;
  }

  async getTextEmbedding(text: string): Promise<number[]> {
    return Array.from(await this.#memory.embedQuery(text));
  }
}

function describe(value: unknown): string {
  return value === null || typeof value !== 'object' ? String(value) : `a ${value.constructor?.name ?? 'plain object'}`;
}
