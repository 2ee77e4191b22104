import { appendMemoryLog, EvolvingEncoder, EvolvingMemory, openStateStore, type EvolvingOptions, type StateStore } from '@evomem/core';
import { EvomemEmbeddings, type EvomemEmbeddingsParams } from '@evomem/langchain';
import { Memory, type MemoryConfig } from 'mem0ai/oss';
import { randomUUID } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { addScope, EvomemMem0Embedder, type AddScope } from './EvomemMem0Embedder.js';

export interface EvomemMemoryOptions {
  /** Encoder settings, or an `EvomemEmbeddings` already created. @default the offline default model */
  embeddings?: EvomemEmbeddings | EvomemEmbeddingsParams;
  /**
   * Folder for Mem0's vector store (`vector_store.db`) and history (`history.db`).
   * @default Mem0's own defaults (~/.mem0/vector_store.db and ./memory.db)
   */
  dir?: string;
  /** Vector store collection. @default 'evomem' */
  collectionName?: string;
  /** Anything else of Mem0's config (llm, reranker, ...), merged last. */
  config?: Partial<MemoryConfig>;
  /**
   * `EvomemMemory` only: store added messages with evolving (context-aware) embeddings, one
   * memory stream per user (userId, else agentId, else runId); each `add` call is a session.
   * `true` for the defaults, or the evolving options.
   * @default false
   */
  evolving?: boolean | EvolvingOptions;
  /**
   * `EvomemMemory` with `evolving` only: where each user's stream state lives (queue,
   * context tail, counters: bounded per user; the vectors stay in Mem0's store). A store,
   * or a string for `openStateStore`: `sqlite:PATH`, `postgres://...` when several
   * processes serve the same users, `memory:`.
   * @default `sqlite:<dir>/evomem-state.db`, or `sqlite:~/.mem0/evomem-state.db` without `dir`
   */
  stateStore?: StateStore | string;
  /**
   * `EvomemMemory` only: a JSONL file that each `add` call appends one line to: the call's
   * messages and the memories Mem0 made of them (with an LLM, the extracted facts). That
   * links every memory to the turns it came from: `evomem train --data <this file>` trains
   * a query adapter on the user's own memories. Appends only; nothing is rewritten.
   * @default no log
   */
  memoryLog?: string;
}

/**
 * A Mem0 config that embeds with evomem through Mem0's public LangChain route:
 * `new Memory(await evomemMemoryConfig({ dir }))`. Mem0 passes batches of new memories to
 * `embedDocuments` and everything else (searches, single adds, updates) to `embedQuery`;
 * `EvomemMemory` routes by memory action instead.
 */
export async function evomemMemoryConfig(options: EvomemMemoryOptions = {}): Promise<MemoryConfig> {
  const embeddings = options.embeddings instanceof EvomemEmbeddings ? options.embeddings : await EvomemEmbeddings.create(withoutDefaultAdapter(options.embeddings));
  await embeddings.encoder();
  const base: MemoryConfig = {
    embedder: { provider: 'langchain', config: { model: embeddings, embeddingDims: embeddings.embeddingDimension } },
    vectorStore: {
      provider: 'memory',
      config: {
        collectionName: options.collectionName ?? 'evomem',
        dimension: embeddings.embeddingDimension,
        ...(options.dir ? { dbPath: join(options.dir, 'vector_store.db') } : {}),
      },
    },
    ...(options.dir ? { historyDbPath: join(options.dir, 'history.db') } : {}),
  } as MemoryConfig;
  return { ...base, ...options.config } as MemoryConfig;
}

/**
 * On Mem0's LangChain route, single adds and updates are embedded as queries too, so a query
 * adapter would project stored memories as well as searches. That route runs the bare model
 * unless an adapter is asked for by name; `EvomemMemory` routes by memory action and keeps
 * the model's default adapter for searches.
 */
function withoutDefaultAdapter(params: EvomemEmbeddingsParams = {}): EvomemEmbeddingsParams {
  return params.encoder?.adapter === undefined ? { ...params, encoder: { ...params.encoder, adapter: false } } : params;
}

let warnedFallback = false;
let warnedNoIngest = false;

/**
 * Mem0's `Memory` with evomem installed as a native embedder, so stored memories get
 * document encodings and searches query encodings (Mem0 passes each call's memory action).
 * Mem0 has no public way to register an embedder, so the subclass replaces the instance's
 * `embedder` after Mem0 builds it, and only when that field is there with the expected
 * shape; otherwise it keeps the LangChain route and warns once.
 *
 * @example
 * const memory = await EvomemMemory.create({ dir: './memories' });
 * await memory.add(messages, { userId: 'maya', infer: false });
 * const { results } = await memory.search('What class did Maya join?', { filters: { user_id: 'maya' } });
 */
export class EvomemMemory extends Memory {
  /** The native embedder, or undefined if this Mem0 version forced the LangChain route. */
  readonly evomemEmbedder: EvomemMem0Embedder | undefined;
  /** The users' evolving streams and their state store, when `evolving` is on. */
  readonly evolvingMemory: EvolvingMemory | undefined;
  readonly #memoryLog: string | undefined;
  readonly #ownsStore: boolean;

  private constructor(config: MemoryConfig, native: EvomemMem0Embedder, evolving: EvolvingMemory | undefined, ownsStore: boolean, memoryLog: string | undefined) {
    super(config);
    this.evolvingMemory = evolving;
    this.#ownsStore = ownsStore;
    this.#memoryLog = memoryLog;
    const self = this as unknown as { embedder?: { embed?: unknown; embedBatch?: unknown } };
    if (typeof self.embedder?.embed === 'function' && typeof self.embedder.embedBatch === 'function') {
      self.embedder = native;
      this.evomemEmbedder = native;
    } else {
      this.evomemEmbedder = undefined;
      if (!warnedFallback) {
        warnedFallback = true;
        process.emitWarning(
          'This mem0ai version has no replaceable embedder; EvomemMemory uses the LangChain route, where single adds and updates get query encodings. Please report it to evomem.',
          { code: 'EVOMEM_MEM0_FALLBACK' },
        );
      }
    }
  }

  static async create(options: EvomemMemoryOptions = {}): Promise<EvomemMemory> {
    const embeddings = options.embeddings instanceof EvomemEmbeddings ? options.embeddings : await EvomemEmbeddings.create(options.embeddings);
    const config = await evomemMemoryConfig({ ...options, embeddings });
    const encoder = await (config.embedder.config as { model: EvomemEmbeddings }).model.encoder();
    let evolving: EvolvingMemory | undefined;
    const ownsStore = typeof options.stateStore !== 'object';
    if (options.evolving) {
      const store =
        typeof options.stateStore === 'object'
          ? options.stateStore
          : await openStateStore(options.stateStore ?? `sqlite:${join(options.dir ?? join(homedir(), '.mem0'), 'evomem-state.db')}`);
      evolving = new EvolvingMemory(new EvolvingEncoder(encoder, options.evolving === true ? {} : options.evolving), { store });
    }
    return new EvomemMemory(config, new EvomemMem0Embedder(encoder, evolving), evolving, ownsStore, options.memoryLog);
  }

  /** Closes the state store it opened (one passed in as an instance stays open). */
  async close(): Promise<void> {
    if (this.evolvingMemory && this.#ownsStore) await this.evolvingMemory.store.close();
  }

  /**
   * Mem0's `add`; with `evolving`, the call's messages go into the user's memory stream;
   * with `memoryLog`, the call and the memories it made are appended to the log.
   */
  override async add(...args: Parameters<Memory['add']>): ReturnType<Memory['add']> {
    const [messages, config] = args;
    const options = (config ?? {}) as { userId?: string; agentId?: string; runId?: string; filters?: Record<string, unknown> };
    const f = options.filters ?? {};
    const scoped = [options.userId, f.user_id, options.agentId, f.agent_id, options.runId, f.run_id].find((v) => typeof v === 'string' && v.trim() !== '') as string | undefined;
    const user = scoped?.trim() ?? 'default';
    const turns = (typeof messages === 'string' ? [{ role: 'user', content: messages }] : messages)
      .filter((m) => m.role !== 'system' && typeof m.content === 'string' && m.content.trim() !== '')
      .map((m) => ({ speaker: (m as { name?: string }).name ?? m.role, text: m.content as string }));
    let result: Awaited<ReturnType<Memory['add']>>;
    if (!this.evolvingMemory || !this.evomemEmbedder) result = await super.add(...args);
    else {
      // Each add is a session of the user's stream. Its messages' state commits only once
      // Mem0 has stored their vectors, so a failed add leaves the stream as it was.
      const session = randomUUID();
      const unique = [...new Map(turns.map((t) => [t.text, t])).values()];
      let settle!: (error?: unknown) => void;
      const stored = new Promise<void>((resolve, reject) => (settle = (error) => (error === undefined ? resolve() : reject(error))));
      stored.catch(() => {});
      const scope: AddScope = { user, segments: unique.map((t, i) => ({ id: `${session}#${i}`, text: t.text, speaker: t.speaker, session })), stored };
      try {
        result = await addScope.run(scope, () => super.add(...args));
      } catch (error) {
        settle(error);
        await scope.ingest?.catch(() => {});
        throw error;
      }
      settle();
      await scope.ingest;
      if (!scope.ingest && turns.length > 0 && !warnedNoIngest) {
        warnedNoIngest = true;
        process.emitWarning(
          "This add stored no message as it was said (with infer, Mem0 stores the facts its LLM extracts), so nothing entered the evolving stream. Evolving embeddings apply to messages Mem0 stores as they are: add with infer: false.",
          { code: 'EVOMEM_MEM0_NOT_EVOLVING' },
        );
      }
    }
    if (this.#memoryLog) {
      const made = result.results.filter((r) => {
        const event = (r as { event?: string }).event ?? (r.metadata as { event?: string } | undefined)?.event;
        return event === undefined || event === 'ADD' || event === 'UPDATE';
      });
      await appendMemoryLog(this.#memoryLog, { user, time: new Date().toISOString(), turns, memories: made.map((r) => ({ id: r.id, text: r.memory })) });
    }
    return result;
  }
}
