import { describe, expect, it } from 'vitest';
import { tinyEncoderForSuite } from '../encoder/fixtures.js';
import { EvomemError } from '../errors.js';
import { EvolvingEncoder } from './EvolvingEncoder.js';
import { EvolvingMemory } from './EvolvingMemory.js';
import type { Segment } from './segments.js';
import type { StreamState } from './StreamState.js';
import { failure } from '../util/expectError.js';

// What the memory's public entry points take: timestamps compared as times, and every
// wrong argument refused with an EvomemError that names it and shows the expected shape.

const encoder = tinyEncoderForSuite();
const at = (id: string, timestamp: string): Segment => ({ id, speaker: 'Maya', session: '1', text: `turn ${id} about pottery`, timestamp });


describe('segment timestamps', () => {
  it('warns only when a segment is really dated before the last one', async () => {
    const warnings: string[] = [];
    const stream = new EvolvingEncoder(encoder(), { onWarning: (m) => warnings.push(m) }).stream('s');
    // LoCoMo's own form after an ISO time of the same morning: in order (its text sorts before).
    await stream.ingest([at('a', '2023-05-08T09:00:00'), at('b', '1:56 pm on 8 May, 2023')]);
    // 18:00 at +05:00 is 13:00 UTC, before 13:56: out of order (its text sorts after).
    await stream.ingest([at('c', '2023-05-08T18:00:00+05:00')]);
    // 10:00 at -05:00 is 15:00 UTC, after 13:00: in order (its text sorts before).
    await stream.ingest([at('d', '2023-05-08T10:00:00-05:00'), at('e', '2023/05/20 (Sat) 02:21'), at('f', '2023-05-20')]);
    expect(warnings).toEqual([
      'Segment c of stream s is dated 2023-05-08T18:00:00+05:00, before 1:56 pm on 8 May, 2023; it is taken in arrival order.',
      'Segment f of stream s is dated 2023-05-20, before 2023/05/20 (Sat) 02:21; it is taken in arrival order.',
    ]);
    expect((await stream.state())!.lastTimestamp).toBe('2023-05-20');
  });

  it('refuses a timestamp that is not a date, naming the segment and the forms it takes, and keeps nothing', async () => {
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder(), { onWarning: () => {} }));
    for (const timestamp of ['not a date', '2023-13-45', '', 1683554160000]) {
      const message = await failure(() => memory.ingest('s', [at('a', '2023-05-08'), { ...at('b', ''), timestamp: timestamp as string }]));
      expect(message).toMatch(/^SEGMENT_INVALID: Segment "b" \(segments\[1\]\): timestamp .* is not a date\. Give ISO 8601 \("2023-05-08", .*LoCoMo's "1:56 pm on 8 May, 2023" or LongMemEval's "2023\/05\/20 \(Sat\) 02:21", or leave it out\.$/);
    }
    expect(await memory.state('s')).toBeNull();
  });
});

describe('memory entry points refuse wrong arguments by name', () => {
  it('EvolvingMemory.ingest and MemoryStream.ingest / ingestTraced: the batch and each segment', async () => {
    const stream = new EvolvingEncoder(encoder()).stream('s');
    const shape = '{ id: string, text: string, speaker?: string, session?: string, timestamp?: string }';
    expect(await failure(() => stream.ingest('hello' as never))).toBe(`SEGMENT_INVALID: ingest into stream s takes an array of segments ${shape}, got "hello".`);
    expect(await failure(() => stream.ingestTraced(null as never))).toBe(`SEGMENT_INVALID: ingest into stream s takes an array of segments ${shape}, got null.`);
    expect(await failure(() => stream.ingest(['hello'] as never))).toBe(`SEGMENT_INVALID: segments[0] must be a segment ${shape}, got "hello".`);
    expect(await failure(() => stream.ingest([{ id: 7, text: 'x' }] as never))).toBe(`SEGMENT_INVALID: segments[0] needs a non-empty string id, got 7. A segment is ${shape}.`);
    expect(await failure(() => stream.ingest([{ id: 'a', text: 'x', timstamp: '2023-05-08' }] as never))).toBe(
      `SEGMENT_INVALID: Segment "a" (segments[0]) has an unknown field "timstamp". Did you mean 'timestamp'? A segment is ${shape}.`,
    );
    expect(await failure(() => stream.ingest([{ id: 'a', text: 42 }] as never))).toBe('SEGMENT_INVALID: Segment "a" (segments[0]) needs its text as a string, got 42.');
    expect(await failure(() => stream.ingest([{ id: 'a', text: '\u0085\u3000' }]))).toContain('Segment "a" (segments[0]) has no text');
    expect(await failure(() => stream.ingest([{ id: 'a', text: 'x', speaker: 5 }] as never))).toBe('SEGMENT_INVALID: Segment "a" (segments[0]): speaker must be a string, got 5.');
    expect(await failure(() => stream.ingest([{ id: 'a', text: 'x', session: {} }] as never))).toBe('SEGMENT_INVALID: Segment "a" (segments[0]): session must be a string, got an object (Object).');
    expect(await stream.state()).toBeNull();
  });

  it('embedQuery of a stream and of the memory, and the stream id', async () => {
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder()));
    expect(await failure(() => memory.stream('s').embedQuery(42 as never))).toBe('INVALID_OPTION: MemoryStream.embedQuery takes the query text (a string), got 42.');
    expect(await failure(() => memory.embedQuery(['q'] as never))).toBe('INVALID_OPTION: EvolvingMemory.embedQuery takes the query text (a string), got an array of 1.');
    expect(await failure(() => memory.embedQuery('q', 5 as never))).toBe('INVALID_OPTION: A stream id must be a non-empty string (a user or conversation id), got 5.');
    expect(await failure(() => memory.ingest(10n as never, []))).toBe('INVALID_OPTION: A stream id must be a non-empty string (a user or conversation id), got 10.');
  });

  it('EvolvingEncoder.advance: the state, the segments and the stream id', async () => {
    const evolving = new EvolvingEncoder(encoder());
    const state = evolving.emptyState();
    expect(await failure(() => evolving.advance({} as StreamState, [], 's'))).toBe(
      'INVALID_OPTION: EvolvingEncoder.advance takes a StreamState (emptyState(), or one an EvolvingMemory committed), got an object (Object).',
    );
    expect(await failure(() => evolving.advance(state, 'hello' as never, 's'))).toMatch(/^SEGMENT_INVALID: ingest into stream s takes an array of segments/);
    expect(await failure(() => evolving.advance(state, [], 5 as never))).toBe("INVALID_OPTION: EvolvingEncoder.advance takes the stream's id (a string) third, got 5.");
    expect(state.turns).toBe(0);
  });
});
