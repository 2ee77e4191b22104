import { AsyncLocalStorage } from 'node:async_hooks';
import type { Encoder, MemoryStream } from '@evomem/core';

/** The `add` call in progress: whose memory, and which texts are its messages. */
export interface AddScope {
  user: string;
  session: string;
  messages: ReadonlySet<string>;
  /** Embeddings already produced in this call, by text (Mem0 may embed a text twice). */
  done: Map<string, number[]>;
}

/** Carries the `add` call's scope to the embedder through Mem0's own calls. */
export const addScope = new AsyncLocalStorage<AddScope>();

/** What Mem0 tells its embedder about a call. */
export type MemoryAction = 'add' | 'update' | 'search';

/**
 * Mem0's embedder interface on evomem's encoder: memories being stored (`add`, `update`)
 * get document encodings, searches get query encodings.
 */
export class EvomemMem0Embedder {
  /** Texts embedded per memory action, for tracing which encoding each call got. */
  readonly calls: Record<MemoryAction | 'unspecified', number> = { add: 0, update: 0, search: 0, unspecified: 0 };
  readonly #encoder: Encoder;
  readonly #streamFor: ((user: string) => MemoryStream) | undefined;
  #segment = 0;

  /**
   * With `streamFor`, the messages of an `add` call (see `addScope`) are ingested into that
   * user's evolving memory stream and stored with its context-aware embeddings.
   */
  constructor(encoder: Encoder, streamFor?: (user: string) => MemoryStream) {
    this.#encoder = encoder;
    this.#streamFor = streamFor;
  }

  get embeddingDims(): number {
    return this.#encoder.dimensions;
  }

  async embed(text: string, memoryAction?: MemoryAction): Promise<number[]> {
    return (await this.embedBatch([text], memoryAction))[0]!;
  }

  async embedBatch(texts: string[], memoryAction?: MemoryAction): Promise<number[][]> {
    this.calls[memoryAction ?? 'unspecified'] += texts.length;
    if (memoryAction === 'search') return Promise.all(texts.map(async (t) => Array.from(await this.#encoder.embedQuery(t))));
    const scope = memoryAction === 'add' && this.#streamFor ? addScope.getStore() : undefined;
    if (!scope) return (await this.#encoder.embedDocuments(texts)).map((v) => Array.from(v));
    // Messages of this add go through the user's stream, once each and in order; other
    // texts (Mem0's entity strings, LLM-extracted facts) get plain document encodings.
    const fresh = [...new Set(texts.filter((t) => scope.messages.has(t) && !scope.done.has(t)))];
    if (fresh.length > 0) {
      const stream = this.#streamFor!(scope.user);
      const vectors = await stream.ingest(fresh.map((text) => ({ id: `m${this.#segment++}`, text, session: scope.session })));
      fresh.forEach((t, i) => scope.done.set(t, Array.from(vectors[i]!)));
    }
    const others = texts.filter((t) => !scope.done.has(t));
    const plain = others.length ? await this.#encoder.embedDocuments(others) : [];
    return texts.map((t) => scope.done.get(t) ?? Array.from(plain[others.indexOf(t)]!));
  }
}
