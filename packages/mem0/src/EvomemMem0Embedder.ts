import { AsyncLocalStorage } from 'node:async_hooks';
import type { Encoder, EvolvingMemory, Segment } from '@evomem/core';

/** The `add` call in progress: whose memory, and its messages in order. */
export interface AddScope {
  user: string;
  /** The call's messages as stream segments (unique texts, in order). */
  segments: readonly Segment[];
  /** Settles once Mem0 has stored the call's memories: the stream then commits, or rolls back on failure. */
  stored: Promise<void>;
  /** The call's messages by text, with their vectors, once the stream computed them. */
  vectors?: Promise<Map<string, number[]>>;
  /** The stream ingest, which resolves when it committed. */
  ingest?: Promise<unknown>;
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
  readonly #memory: EvolvingMemory | undefined;

  /**
   * With `memory`, the messages of an `add` call (see `addScope`) are ingested into that
   * user's evolving stream, and stored with its context-aware embeddings.
   */
  constructor(encoder: Encoder, memory?: EvolvingMemory) {
    this.#encoder = encoder;
    this.#memory = memory;
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
    const scope = memoryAction === 'add' && this.#memory ? addScope.getStore() : undefined;
    if (!scope || !texts.some((t) => scope.segments.some((s) => s.text === t))) return (await this.#encoder.embedDocuments(texts)).map((v) => Array.from(v));
    // Mem0 embeds an add's messages one call at a time; the stream takes them all at the
    // first, in order, and holds its commit until Mem0 has stored them (see EvomemMemory.add).
    scope.vectors ??= new Promise<Map<string, number[]>>((resolve, reject) => {
      scope.ingest = this.#memory!.ingest(scope.user, scope.segments, {
        beforeCommit: async ({ embeddings }) => {
          resolve(new Map(scope.segments.map((s, i) => [s.text, Array.from(embeddings[i]!)])));
          await scope.stored;
        },
      });
      scope.ingest.catch(reject);
    });
    const vectors = await scope.vectors;
    const others = texts.filter((t) => !vectors.has(t));
    const plain = others.length ? await this.#encoder.embedDocuments(others) : [];
    return texts.map((t) => vectors.get(t) ?? Array.from(plain[others.indexOf(t)]!));
  }
}
