import { randomUUID } from 'node:crypto';
import {
  Encoder,
  EvolvingEncoder,
  EvolvingMemory,
  EvomemError,
  openStateStore,
  segmentMeta,
  type EncoderOptions,
  type EvolvingMemoryOptions,
  type EvolvingOptions,
  type Segment,
  type StateStore,
} from '@evomem/core';
import type { Callbacks } from '@langchain/core/callbacks/manager';
import { Document, type DocumentInterface } from '@langchain/core/documents';
import { VectorStore, type MaxMarginalRelevanceSearchOptions } from '@langchain/core/vectorstores';
import { EvomemEmbeddings } from './EvomemEmbeddings.js';

/**
 * The stream (a user's or a conversation's memory) a document is ingested into: one stream
 * id for every document, or a function of the document, e.g. `(doc) => doc.metadata.user`.
 */
export type StreamKey = string | ((document: DocumentInterface) => string);

/** The stream documents go to when no `stream` is given. */
export const DEFAULT_STREAM = 'default';

export interface EvolvingVectorStoreOptions<V extends VectorStore = VectorStore> extends Omit<EvolvingMemoryOptions, 'store'> {
  /**
   * The vector store that keeps the vectors, or a function that builds it on the given
   * `EvomemEmbeddings` (same encoder as the wrapper), so that the inner store's own
   * text search (`maxMarginalRelevanceSearch`) embeds queries as the wrapper does.
   */
  vectorStore: V | ((embeddings: EvomemEmbeddings) => V | Promise<V>);
  /**
   * Where the streams' state lives: a `StateStore`, or a string for `openStateStore`
   * (`sqlite:./evomem.db`, `postgres://user:password@host/db`, `memory:`). Required: the
   * vectors outlive the process in your vector store, so the state they were conditioned
   * on must too. With a forgotten in-memory default, a restart would silently start every
   * stream from scratch and forget which ids it holds. `memory:` is for tests.
   */
  state: StateStore | string;
  /** Encoder settings (`model`, `device`, `adapter`, ...). @default the offline default model on `auto` */
  encoder?: EncoderOptions;
  /** An encoder already loaded, shared instead of loading another (`encoder` is then ignored). */
  encoderInstance?: Encoder;
  /** Settings of the evolving encoder (context, latent read-out, capacity). `queryReadout` is refused: see `EvolvingVectorStore`. @default {} */
  evolving?: EvolvingOptions;
  /**
   * Stream of each document, unless `addDocuments` is given one.
   * @default 'default' (one stream for everything)
   */
  stream?: StreamKey;
  /**
   * Delete the ids from the inner store (`delete({ ids })`) before writing them. Needed by
   * stores whose `addVectors` inserts and refuses an existing id (PGVectorStore): a retry
   * after a failure between the vector write and the state commit then replaces the rows
   * that attempt left. Stores that upsert by id (Chroma, Qdrant, Pinecone, ...) need it not.
   * @default false
   */
  deleteBeforeAdd?: boolean;
}

/** What the constructor takes: the parts `create` builds. */
export interface EvolvingVectorStoreInput<V extends VectorStore = VectorStore> extends Pick<EvolvingVectorStoreOptions<V>, 'stream' | 'deleteBeforeAdd'> {
  /** The vector store that keeps the vectors. */
  vectorStore: V;
  /** The evolving memory that makes the embeddings and keeps the streams' state. Its encoder must be an `Encoder`. */
  memory: EvolvingMemory;
}

/** Options of `EvolvingVectorStore.addDocuments`. */
export interface EvolvingAddOptions {
  /** Ids of the documents without an `id` of their own. @default a random UUID each */
  ids?: string[];
  /** Stream of each document, for this call. @default the store's `stream` */
  stream?: StreamKey;
}

/**
 * Makes any LangChain `VectorStore` evolving: each document's embedding is conditioned on
 * the documents of its stream before it (EvoEmbedding's mechanism, `EvolvingMemory`).
 * evomem owns the embeddings and the streams' state; the inner store owns the vectors.
 *
 * - `addDocuments` ingests the documents of each stream in order, reading `speaker`,
 *   `session` and `timestamp` from their metadata. The inner store's write runs inside the
 *   ingest, before the state commits: if it throws, the stream is unchanged.
 * - Ids: `document.id`, else `ids[i]`, else a random UUID. They are the stream's segment
 *   ids and the inner store's ids, so they must be unique in the inner store. Give your own
 *   to make retries safe: a retry after a failure writes the same vectors under the same
 *   ids (an upsert in stores that upsert; see `deleteBeforeAdd` for those that do not).
 *   A retry of a call that succeeded is refused (`SEGMENT_DUPLICATE`): its segments are
 *   already in the stream and later embeddings were conditioned on them.
 * - Queries are embedded by `embeddings` (the encoder's query prompt and adapter) and
 *   searched in the inner store, across streams unless a filter says otherwise. The
 *   evolving option `queryReadout` is refused: it conditions a query on one stream's state.
 * - `addVectors` is refused: vectors made elsewhere would bypass the stream.
 *
 * @example
 * const store = await EvolvingVectorStore.create({
 *   vectorStore: (embeddings) => new MemoryVectorStore(embeddings),
 *   state: 'sqlite:./evomem.db',
 *   stream: (doc) => doc.metadata.user,
 * });
 * await store.addDocuments([new Document({ id: 'D1:1', pageContent: 'My sister got the nurse job!', metadata: { user: 'maya', speaker: 'Maya' } })]);
 * const hits = await store.similaritySearch("What job did Maya's sister get?", 3);
 */
export class EvolvingVectorStore<V extends VectorStore = VectorStore> extends VectorStore {
  declare FilterType: V['FilterType'];
  declare embeddings: EvomemEmbeddings;
  readonly inner: V;
  readonly memory: EvolvingMemory;
  readonly stream: StreamKey;
  readonly deleteBeforeAdd: boolean;
  #owned: (() => Promise<void>)[] = [];

  constructor(input: EvolvingVectorStoreInput<V>) {
    // Duck-typed: a store built on another copy of @langchain/core is no instance of ours.
    if (typeof input?.vectorStore?.addVectors !== 'function' || typeof input.vectorStore.similaritySearchVectorWithScore !== 'function') {
      throw new EvomemError('INVALID_OPTION', `EvolvingVectorStore needs vectorStore: a LangChain VectorStore to keep the vectors, got ${typeof input?.vectorStore}.`);
    }
    const encoder = input.memory?.evolving.encoder;
    if (!(encoder instanceof Encoder)) {
      throw new EvomemError('INVALID_OPTION', 'EvolvingVectorStore embeds queries with the memory\'s encoder, which must be an Encoder (Encoder.load()); pass memory: new EvolvingMemory(new EvolvingEncoder(await Encoder.load()), { store }).');
    }
    if (input.memory.evolving.options.queryReadout) {
      throw new EvomemError(
        'INVALID_OPTION',
        'EvolvingVectorStore searches all streams of the inner store with one query vector, so the evolving option queryReadout (a query conditioned on one stream) does not apply. Leave it off, or embed per stream with memory.embedQuery(text, stream) and call similaritySearchVectorWithScore.',
      );
    }
    super(new EvomemEmbeddings({ encoderInstance: encoder }), {});
    this.inner = input.vectorStore;
    this.memory = input.memory;
    this.stream = input.stream ?? DEFAULT_STREAM;
    this.deleteBeforeAdd = input.deleteBeforeAdd ?? false;
  }

  /** Builds the encoder, the state store, the memory and the inner store from options. */
  static async create<V extends VectorStore>(options: EvolvingVectorStoreOptions<V>): Promise<EvolvingVectorStore<V>> {
    const { vectorStore, state, encoder, encoderInstance, evolving, stream, deleteBeforeAdd, ...memoryOptions } = options;
    if (!vectorStore) throw new EvomemError('INVALID_OPTION', 'EvolvingVectorStore.create needs vectorStore: a LangChain VectorStore, or (embeddings) => new MemoryVectorStore(embeddings).');
    if (state === undefined || state === null) {
      throw new EvomemError(
        'INVALID_OPTION',
        "EvolvingVectorStore.create needs state: where the streams' state lives, next to your vectors ('sqlite:./evomem.db', 'postgres://user:password@host/db', or a StateStore). Use 'memory:' only for tests: it is gone when the process ends.",
      );
    }
    const owned: (() => Promise<void>)[] = [];
    try {
      const store = typeof state === 'string' ? await openStateStore(state) : state;
      if (typeof state === 'string') owned.push(() => store.close());
      const enc = encoderInstance ?? (await Encoder.load(encoder));
      if (!encoderInstance) owned.push(() => enc.dispose());
      const memory = new EvolvingMemory(new EvolvingEncoder(enc, evolving), { ...memoryOptions, store });
      const inner = typeof vectorStore === 'function' ? await vectorStore(new EvomemEmbeddings({ encoderInstance: enc })) : vectorStore;
      const result = new EvolvingVectorStore<V>({ vectorStore: inner, memory, ...(stream !== undefined ? { stream } : {}), ...(deleteBeforeAdd !== undefined ? { deleteBeforeAdd } : {}) });
      result.#owned = owned;
      return result;
    } catch (error) {
      await Promise.allSettled(owned.map((close) => close()));
      throw error;
    }
  }

  _vectorstoreType(): string {
    return 'evomem_evolving';
  }

  /**
   * Ingests the documents into their streams (each stream's documents together, in the
   * order given; streams one after another) and writes their vectors to the inner store.
   * Resolves with the ids, in input order. If a stream fails, the streams before it in this
   * call stay committed and the error is thrown.
   */
  override async addDocuments(documents: DocumentInterface[], options: EvolvingAddOptions = {}): Promise<string[]> {
    if (!Array.isArray(documents)) throw new EvomemError('INVALID_OPTION', `addDocuments takes an array of documents, got ${typeof documents}.`);
    const { ids: given, stream = this.stream } = options;
    if (given !== undefined && given.length !== documents.length) {
      throw new EvomemError('INVALID_OPTION', `addDocuments got ${documents.length} documents and ${given.length} ids; give one id per document, or none.`);
    }
    const ids = documents.map((doc, i) => documentId(doc, given?.[i], i));
    const groups = new Map<string, number[]>();
    documents.forEach((doc, i) => {
      const id = streamOf(stream, doc, i);
      groups.set(id, [...(groups.get(id) ?? []), i]);
    });
    for (const [streamId, indexes] of groups) {
      const docs = indexes.map((i) => new Document({ pageContent: documents[i]!.pageContent, metadata: documents[i]!.metadata ?? {}, id: ids[i]! }));
      const segments: Segment[] = docs.map((d) => ({ ...segmentMeta(d.id!, d.metadata), text: d.pageContent }));
      const docIds = docs.map((d) => d.id!);
      await this.memory.ingest(streamId, segments, {
        beforeCommit: async ({ embeddings }) => {
          if (this.deleteBeforeAdd) await this.inner.delete({ ids: docIds });
          await this.inner.addVectors(embeddings.map((v) => Array.from(v)), docs, { ids: docIds });
        },
      });
    }
    return ids;
  }

  /** Refused: vectors made elsewhere would bypass the stream that later documents are conditioned on. */
  override async addVectors(_vectors: number[][], _documents: DocumentInterface[]): Promise<never> {
    throw new EvomemError(
      'INVALID_OPTION',
      'EvolvingVectorStore.addVectors is refused: vectors made outside the stream would be missing from the context of later documents. Use addDocuments(documents) so evomem embeds them in order, or write precomputed vectors to the inner store directly (store.inner.addVectors(...)).',
    );
  }

  /** Searches the inner store with a query vector (`embeddings.embedQuery(text)` gives evomem's). */
  override similaritySearchVectorWithScore(query: number[], k: number, filter?: this['FilterType']): Promise<[DocumentInterface, number][]> {
    return this.inner.similaritySearchVectorWithScore(query, k, filter);
  }

  /**
   * Maximal marginal relevance search of the inner store. The inner store embeds the query
   * itself, so it must hold an `EvomemEmbeddings` on this store's encoder: build it with
   * `create({ vectorStore: (embeddings) => new PGVectorStore(embeddings, ...) })`.
   */
  override async maxMarginalRelevanceSearch(query: string, options: MaxMarginalRelevanceSearchOptions<this['FilterType']>, callbacks?: Callbacks): Promise<DocumentInterface[]> {
    if (typeof this.inner.maxMarginalRelevanceSearch !== 'function') {
      throw new EvomemError('INVALID_OPTION', `The inner vector store (${this.inner._vectorstoreType()}) has no maxMarginalRelevanceSearch; use similaritySearch.`);
    }
    const own = this.inner.embeddings;
    if (!(own instanceof EvomemEmbeddings && (await own.encoder()) === this.memory.evolving.encoder)) {
      throw new EvomemError(
        'INVALID_OPTION',
        "The inner vector store embeds queries with other embeddings than this store's encoder, so its maxMarginalRelevanceSearch would compare unlike vectors. Build the inner store on the EvomemEmbeddings that create passes: vectorStore: (embeddings) => new MemoryVectorStore(embeddings).",
      );
    }
    return this.inner.maxMarginalRelevanceSearch(query, options, callbacks);
  }

  /**
   * Deletes from the inner store (parameters as it takes them, e.g. `{ ids }`). The streams
   * keep their state and their ledger of ids: what was said still conditions later
   * documents, and a deleted id is not taken again in its stream.
   */
  override delete(params?: Record<string, unknown>): Promise<void> {
    return this.inner.delete(params);
  }

  /** Closes what `create` opened itself: the state store given as a string, the encoder it loaded. The inner store is yours to close. */
  async close(): Promise<void> {
    const owned = this.#owned;
    this.#owned = [];
    for (const close of owned.reverse()) await close();
  }
}

function documentId(doc: DocumentInterface, given: string | undefined, i: number): string {
  if (typeof doc?.pageContent !== 'string' || doc.pageContent.trim() === '') {
    throw new EvomemError('SEGMENT_INVALID', `documents[${i}] has no pageContent; empty documents carry nothing to remember.`);
  }
  if (doc.id && given && doc.id !== given) {
    throw new EvomemError('INVALID_OPTION', `documents[${i}] has id ${JSON.stringify(doc.id)} and ids[${i}] is ${JSON.stringify(given)}; give the id once.`);
  }
  return doc.id || given || randomUUID();
}

function streamOf(key: StreamKey, doc: DocumentInterface, i: number): string {
  const id = typeof key === 'function' ? key(doc) : key;
  if (typeof id !== 'string' || id === '') {
    throw new EvomemError('INVALID_OPTION', `The stream of documents[${i}] is ${JSON.stringify(id)}; stream must be a non-empty string or a function returning one (e.g. (doc) => doc.metadata.user).`);
  }
  return id;
}
