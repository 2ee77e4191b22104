import { EvomemError } from '../errors.js';

/** One unit of a conversation, ingested in arrival order. */
export interface Segment {
  /** Unique within a stream. */
  id: string;
  text: string;
  /** @default 'unknown' */
  speaker?: string;
  session?: string;
  /** ISO 8601. */
  timestamp?: string;
}

/**
 * Checks a batch before anything changes: an array of segments, each with a string id that
 * is new within the batch, and non-blank text. `stream` names the stream in errors.
 */
export function checkSegments(segments: unknown, stream: string): asserts segments is readonly Segment[] {
  if (!Array.isArray(segments)) {
    throw new EvomemError('SEGMENT_INVALID', `ingest into stream ${stream} takes an array of segments ({ id, text, speaker?, session?, timestamp? }), got ${typeof segments}.`);
  }
  const seen = new Set<string>();
  for (const [i, s] of (segments as Segment[]).entries()) {
    if (typeof s?.id !== 'string' || s.id === '') throw new EvomemError('SEGMENT_INVALID', `segments[${i}] needs a string id.`);
    if (seen.has(s.id)) throw new EvomemError('SEGMENT_INVALID', `Segment id ${JSON.stringify(s.id)} appears twice in one batch (segments[${i}]); ids are unique per stream.`);
    if (typeof s.text !== 'string' || s.text.trim() === '') throw new EvomemError('SEGMENT_INVALID', `Segment ${JSON.stringify(s.id)} (segments[${i}]) has no text; empty turns carry nothing to remember.`);
    seen.add(s.id);
  }
}

/** A copy with only the known fields, so what is stored is what was meant. */
export function segmentRecord(s: Segment): Segment {
  return { id: s.id, text: s.text, ...(s.speaker ? { speaker: s.speaker } : {}), ...(s.session ? { session: s.session } : {}), ...(s.timestamp ? { timestamp: s.timestamp } : {}) };
}
