import { EvomemError } from '../errors.js';
import { describeValue } from '../util/options.js';
import type { EvolvingMemory, IngestOptions, IngestResult } from './EvolvingMemory.js';
import type { Segment } from './segments.js';
import type { StreamState } from './StreamState.js';

/**
 * One stream of an `EvolvingMemory`: a user's or a conversation's memory. It holds no
 * data itself; its state is in the memory's store.
 *
 * @example
 * const stream = memory.stream('maya');
 * const [vector] = await stream.ingest([{ id: 'D1:1', speaker: 'Maya', text: 'I joined a pottery class.' }]);
 */
export class MemoryStream {
  readonly memory: EvolvingMemory;
  readonly id: string;

  constructor(memory: EvolvingMemory, id: string) {
    this.memory = memory;
    this.id = id;
  }

  /** Ingests segments in arrival order; resolves with their embeddings once committed. The batch is checked as `EvolvingMemory.ingest` checks it. */
  async ingest(segments: readonly Segment[], options?: IngestOptions): Promise<Float32Array[]> {
    return (await this.memory.ingest(this.id, segments, options)).embeddings;
  }

  /**
   * `ingest`, also returning what each embedding was made of: the turn's context embedding
   * (`bases`) and its read-out (`traces`), so that `mixReadOut(bases[i], traces[i], weights)`
   * recomputes `embeddings[i]` under other gate weights. `trainAdapter` trains the gate on these.
   */
  ingestTraced(segments: readonly Segment[], options?: IngestOptions): Promise<IngestResult> {
    return this.memory.ingest(this.id, segments, options);
  }

  /** A query embedded against this stream's memory. */
  async embedQuery(text: string): Promise<Float32Array> {
    if (typeof text !== 'string') throw new EvomemError('INVALID_OPTION', `MemoryStream.embedQuery takes the query text (a string), got ${describeValue(text)}.`);
    return this.memory.embedQuery(text, this.id);
  }

  /** The committed state (queue, tail, counters), or null before the first ingest. */
  state(): Promise<StreamState | null> {
    return this.memory.state(this.id);
  }
}
