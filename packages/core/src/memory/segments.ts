import { EvomemError } from '../errors.js';
import { parseTime, TIME_FORMATS } from '../util/dates.js';
import { describeValue, nearestKey } from '../util/options.js';
import { isBlank } from '../util/text.js';

/** One unit of a conversation, ingested in arrival order. */
export interface Segment {
  /** Unique within a stream. */
  id: string;
  text: string;
  /** @default 'unknown' */
  speaker?: string;
  session?: string;
  /**
   * When it was said: ISO 8601 (with or without an offset; without one it is read as UTC),
   * or the LoCoMo and LongMemEval forms ("1:56 pm on 8 May, 2023", "2023/05/20 (Sat) 02:21").
   * Anything else is refused. Stored as given.
   */
  timestamp?: string;
}

/** A segment's shape, as errors show it. */
export const SEGMENT_SHAPE = '{ id: string, text: string, speaker?: string, session?: string, timestamp?: string }';
const FIELDS = ['id', 'text', 'speaker', 'session', 'timestamp'];

/**
 * Checks a batch before anything changes: an array of segments (`SEGMENT_SHAPE`, no other
 * fields), each with a string id that is new within the batch, text that is not blank, a
 * string speaker and session when given, and a timestamp that is a date (`TIME_FORMATS`).
 * `stream` names the stream in errors.
 */
export function checkSegments(segments: unknown, stream: string): asserts segments is readonly Segment[] {
  const fail = (message: string) => new EvomemError('SEGMENT_INVALID', message);
  if (!Array.isArray(segments)) throw fail(`ingest into stream ${stream} takes an array of segments ${SEGMENT_SHAPE}, got ${describeValue(segments)}.`);
  const seen = new Set<string>();
  segments.forEach((s: unknown, i) => {
    if (typeof s !== 'object' || s === null || Array.isArray(s)) throw fail(`segments[${i}] must be a segment ${SEGMENT_SHAPE}, got ${describeValue(s)}.`);
    const segment = s as Record<string, unknown>;
    if (typeof segment.id !== 'string' || segment.id === '') throw fail(`segments[${i}] needs a non-empty string id, got ${describeValue(segment.id)}. A segment is ${SEGMENT_SHAPE}.`);
    const name = `Segment ${JSON.stringify(segment.id)} (segments[${i}])`;
    const unknown = Object.keys(segment).find((key) => !FIELDS.includes(key));
    if (unknown !== undefined) {
      const near = nearestKey(unknown, FIELDS);
      throw fail(`${name} has an unknown field ${JSON.stringify(unknown)}.${near ? ` Did you mean '${near}'?` : ''} A segment is ${SEGMENT_SHAPE}.`);
    }
    if (seen.has(segment.id)) throw fail(`Segment id ${JSON.stringify(segment.id)} appears twice in one batch (segments[${i}]); ids are unique per stream.`);
    if (typeof segment.text !== 'string') throw fail(`${name} needs its text as a string, got ${describeValue(segment.text)}.`);
    if (isBlank(segment.text)) throw fail(`${name} has no text; empty turns carry nothing to remember.`);
    for (const field of ['speaker', 'session'] as const) {
      if (segment[field] !== undefined && typeof segment[field] !== 'string') throw fail(`${name}: ${field} must be a string, got ${describeValue(segment[field])}.`);
    }
    const { timestamp } = segment;
    if (timestamp !== undefined && (typeof timestamp !== 'string' || parseTime(timestamp) === undefined)) {
      throw fail(`${name}: timestamp ${describeValue(timestamp)} is not a date. Give ${TIME_FORMATS}, or leave it out.`);
    }
    seen.add(segment.id);
  });
}

/** A copy with only the known fields, so what is stored is what was meant. */
export function segmentRecord(s: Segment): Segment {
  return { id: s.id, text: s.text, ...(s.speaker ? { speaker: s.speaker } : {}), ...(s.session ? { session: s.session } : {}), ...(s.timestamp ? { timestamp: s.timestamp } : {}) };
}
