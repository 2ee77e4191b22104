import { EvomemError } from '../errors.js';
import { parseTime } from '../util/dates.js';
import { checkOptions, is } from '../util/options.js';
import { Bm25Index, type Bm25Options } from './Bm25Index.js';
import { standardize } from './fusion.js';
import { fromNeighbour, neighbourLinks, type NeighbourLinks } from './signals/neighbourhood.js';
import { SessionPrior } from './signals/sessionPrior.js';
import { namedSpeakers, speakerMatch, speakersOf } from './signals/speakers.js';
import { asksWhen, dateMatch, queryPeriods, statesTime } from './signals/timeCues.js';

/** Every signal the pipeline computes, in a fixed order (the order of weights files). */
export const SIGNALS = [
  'bm25',
  'dense',
  'session-bm25',
  'session-dense',
  'prev-bm25',
  'next-bm25',
  'prev-dense',
  'next-dense',
  'speaker',
  'reply-to-speaker',
  'when-time',
  'date-match',
] as const;
export type SignalName = (typeof SIGNALS)[number];

/** One weight per signal; a signal without one counts 0. */
export type FusionWeights = Partial<Record<SignalName, number>>;

/** The switchable parts of the pipeline; each is on by default. */
export interface PipelineParts {
  /** A turn's score draws on its neighbours' (`prev-*`, `next-*`). */
  neighbourhood?: boolean;
  /** Session-level lexical and dense scores as a prior for the session's turns (`session-*`). */
  granularity?: boolean;
  /** Turns by the speakers a question names, and replies to them (`speaker`, `reply-to-speaker`). */
  speakers?: boolean;
  /** "When" questions prefer turns that state a time; dated questions prefer sessions of that date (`when-time`, `date-match`). */
  time?: boolean;
}

/** The signals each part turns on; `bm25` and `dense` are always on. */
export const PART_SIGNALS: Record<keyof PipelineParts, readonly SignalName[]> = {
  neighbourhood: ['prev-bm25', 'next-bm25', 'prev-dense', 'next-dense'],
  granularity: ['session-bm25', 'session-dense'],
  speakers: ['speaker', 'reply-to-speaker'],
  time: ['when-time', 'date-match'],
};

export const PARTS_SPEC = { neighbourhood: is.boolean, granularity: is.boolean, speakers: is.boolean, time: is.boolean };

/** What the pipeline knows of a unit besides its text. */
export interface PipelineUnit {
  text: string;
  speaker?: string;
  session?: string;
  /** When it was said (`TIME_FORMATS`); a value that is not a date is no date, and breaks nothing. */
  timestamp?: string;
}

/** The signal columns for one query: one score per unit each, z-scored where they are scores. */
export type SignalColumns = Partial<Record<SignalName, Float64Array>>;

/**
 * Scores a conversation memory's units for a query from everything it knows of them:
 * lexical and dense scores, the exchange around each turn, its session, its speaker and
 * its date. Each part is one small signal (`signals/`); the pipeline computes their
 * columns, and `fuseSignals` sums them with learned weights.
 *
 * @example
 * const pipeline = new RetrievalPipeline([{ text: 'Maya: I joined a pottery class', speaker: 'Maya', session: '1' }]);
 * const columns = pipeline.signals('What class did Maya join?', [0.42]);
 */
export class RetrievalPipeline {
  readonly #units: readonly PipelineUnit[];
  readonly #parts: Required<PipelineParts>;
  readonly #bm25: Bm25Index;
  readonly #links: NeighbourLinks;
  readonly #sessions: SessionPrior | undefined;
  /** Each unit's speakers, split once. */
  readonly #unitSpeakers: string[][];
  /** Everyone who speaks in the memory. */
  readonly #speakers: string[];
  readonly #timed: Float64Array;
  readonly #times: (number | undefined)[];
  readonly #now: number | undefined;

  constructor(units: readonly PipelineUnit[], options: { parts?: PipelineParts; bm25?: Bm25Options } = {}) {
    if (options.parts) checkOptions('RetrievalPipeline parts', options.parts, PARTS_SPEC);
    this.#units = units;
    this.#parts = { neighbourhood: true, granularity: true, speakers: true, time: true, ...options.parts };
    const texts = units.map((u) => u.text);
    this.#bm25 = new Bm25Index(texts, options.bm25);
    const sessions = units.map((u) => u.session);
    this.#links = neighbourLinks(sessions);
    this.#sessions = this.#parts.granularity ? new SessionPrior(texts, sessions, options.bm25) : undefined;
    this.#unitSpeakers = units.map((u) => speakersOf(u.speaker));
    this.#speakers = [...new Set(this.#unitSpeakers.flat())];
    this.#timed = Float64Array.from(units, (u) => (statesTime(u.text) ? 1 : 0));
    this.#times = units.map((u) => (u.timestamp === undefined ? undefined : parseTime(u.timestamp)?.ms));
    // A loop, not Math.max(...times): a memory of 100k+ turns would overflow the call stack.
    this.#now = this.#times.reduce<number | undefined>((latest, t) => (t !== undefined && (latest === undefined || t > latest) ? t : latest), undefined);
  }

  get size(): number {
    return this.#units.length;
  }

  /**
   * The signal columns for `query`. `dense` holds the raw similarity of each unit to the
   * query (cosines of the index's embeddings); without it the dense signals are left out.
   * `now` is the time relative dates ("last May") count from: the question's date, else the
   * latest date in the memory.
   */
  signals(query: string, dense?: ArrayLike<number>, now: number | undefined = this.#now): SignalColumns {
    if (dense !== undefined && dense.length !== this.#units.length) {
      throw new EvomemError('INVALID_OPTION', `RetrievalPipeline.signals: ${dense.length} dense scores for ${this.#units.length} units; give one score per unit.`);
    }
    const columns: SignalColumns = {};
    const bm25 = standardize(this.#bm25.scores(query));
    columns.bm25 = bm25;
    const denseZ = dense ? standardize(dense) : undefined;
    if (denseZ) columns.dense = denseZ;
    if (this.#parts.granularity) {
      columns['session-bm25'] = this.#sessions!.lexical(query);
      if (denseZ) columns['session-dense'] = this.#sessions!.best(denseZ);
    }
    if (this.#parts.neighbourhood) {
      columns['prev-bm25'] = fromNeighbour(bm25, this.#links.prev);
      columns['next-bm25'] = fromNeighbour(bm25, this.#links.next);
      if (denseZ) {
        columns['prev-dense'] = fromNeighbour(denseZ, this.#links.prev);
        columns['next-dense'] = fromNeighbour(denseZ, this.#links.next);
      }
    }
    if (this.#parts.speakers) {
      const spoken = speakerMatch(this.#unitSpeakers, namedSpeakers(query, this.#speakers));
      columns.speaker = spoken;
      columns['reply-to-speaker'] = fromNeighbour(spoken, this.#links.prev);
    }
    if (this.#parts.time) {
      const when = asksWhen(query);
      columns['when-time'] = when ? this.#timed.slice() : new Float64Array(this.#units.length);
      columns['date-match'] = dateMatch(this.#times, queryPeriods(query, now));
    }
    return columns;
  }
}

/** The weighted sum of the signal columns: the pipeline's score of each unit. */
export function fuseSignals(columns: SignalColumns, weights: FusionWeights, size: number): Float64Array {
  const fused = new Float64Array(size);
  for (const name of SIGNALS) {
    const column = columns[name];
    const w = weights[name] ?? 0;
    if (!column || w === 0) continue;
    for (let i = 0; i < size; i++) fused[i]! += w * column[i]!;
  }
  return fused;
}

const WEIGHTS_SPEC = Object.fromEntries(SIGNALS.map((s) => [s, is.number()]));

/** Checks a weights object: known signal names (the nearest one suggested), finite numbers. */
export function checkFusionWeights(where: string, weights: unknown): FusionWeights {
  if (typeof weights !== 'object' || weights === null || Array.isArray(weights)) {
    throw new EvomemError('INVALID_OPTION', `${where} must be an object of signal weights ({ bm25: 1, dense: 1, ... }), got ${JSON.stringify(weights)}.`);
  }
  checkOptions(where, weights as Record<string, unknown>, WEIGHTS_SPEC);
  return weights as FusionWeights;
}
