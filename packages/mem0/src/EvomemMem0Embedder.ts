import type { Encoder } from '@evomem/core';

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

  constructor(encoder: Encoder) {
    this.#encoder = encoder;
  }

  get embeddingDims(): number {
    return this.#encoder.dimensions;
  }

  async embed(text: string, memoryAction?: MemoryAction): Promise<number[]> {
    this.calls[memoryAction ?? 'unspecified']++;
    if (memoryAction === 'search') return Array.from(await this.#encoder.embedQuery(text));
    return Array.from((await this.#encoder.embedDocuments([text]))[0]!);
  }

  async embedBatch(texts: string[], memoryAction?: MemoryAction): Promise<number[][]> {
    this.calls[memoryAction ?? 'unspecified'] += texts.length;
    if (memoryAction === 'search') return Promise.all(texts.map(async (t) => Array.from(await this.#encoder.embedQuery(t))));
    return (await this.#encoder.embedDocuments(texts)).map((v) => Array.from(v));
  }
}
