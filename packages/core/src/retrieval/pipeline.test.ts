import { describe, expect, it } from 'vitest';
import { EvomemError } from '../errors.js';
import { Bm25Index } from './Bm25Index.js';
import { checkFusionWeights, fuseSignals, PART_SIGNALS, RetrievalPipeline, SIGNALS, type PipelineParts, type PipelineUnit } from './pipeline.js';

/** Population z-scores, written out here so the test does not lean on the code under test. */
const zScores = (v: ArrayLike<number>) => {
  const x = Array.from(v);
  const mean = x.reduce((a, b) => a + b, 0) / x.length;
  const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
  return x.map((y) => (std > 0 ? (y - mean) / std : 0));
};
const expectClose = (got: ArrayLike<number> | undefined, want: readonly number[]) => {
  expect(got).toBeDefined();
  expect(got!.length).toBe(want.length);
  want.forEach((w, i) => expect(got![i]).toBeCloseTo(w, 9));
};

// Three LoCoMo-style sessions between Maya and Theo.
const s1 = { session: '1', timestamp: '1:56 pm on 8 May, 2023' };
const s2 = { session: '2', timestamp: '10:00 am on 20 July, 2023' };
const s3 = { session: '3', timestamp: '3:00 pm on 15 August, 2023' };
const units: PipelineUnit[] = [
  { text: 'I joined a pottery class yesterday', speaker: 'Maya', ...s1 },
  { text: 'How was the pottery lesson?', speaker: 'Theo', ...s1 },
  { text: 'We made bowls', speaker: 'Maya', ...s1 },
  { text: 'I adopted a greyhound', speaker: 'Theo', ...s2 },
  { text: 'What is his name?', speaker: 'Maya', ...s2 },
  { text: 'I moved to Lisbon in August', speaker: 'Maya', ...s3 },
  { text: 'Lisbon is lovely', speaker: 'Theo', ...s3 },
];
// Session bests of these are 0.5, 0.1, 0.1: the pattern [2a, -a, -a] around the mean.
const dense = [0.5, 0.2, 0.1, 0.1, 0.0, 0.1, -0.3];
/** The neighbour's value within the session, 0 at the session's edges. */
const prevOf = (z: number[]) => [0, z[0]!, z[1]!, 0, z[3]!, 0, z[5]!];
const nextOf = (z: number[]) => [z[1]!, z[2]!, 0, z[4]!, 0, z[6]!, 0];

describe('RetrievalPipeline', () => {
  const pipeline = new RetrievalPipeline(units);

  it('gives every signal a column, one value per unit, when dense scores are given', () => {
    const columns = pipeline.signals('What did Maya make in pottery class?', dense);
    expect(Object.keys(columns).sort()).toEqual([...SIGNALS].sort());
    for (const name of SIGNALS) expect(columns[name]).toHaveLength(units.length);
    expect(pipeline.size).toBe(units.length);
  });

  it("z-scores BM25 and dense, and reads each neighbour's value within its session", () => {
    const query = 'pottery bowls';
    const columns = pipeline.signals(query, dense);
    const bm25 = zScores(new Bm25Index(units.map((u) => u.text)).scores(query));
    expect(bm25[0]).toBeGreaterThan(0);
    expectClose(columns.bm25, bm25);
    expectClose(columns['prev-bm25'], prevOf(bm25));
    expectClose(columns['next-bm25'], nextOf(bm25));
    const denseZ = zScores(dense);
    expectClose(columns.dense, denseZ);
    expectClose(columns['prev-dense'], prevOf(denseZ));
    expectClose(columns['next-dense'], nextOf(denseZ));
    // Only session 1 holds the words: its session score is s and the others 0, whose
    // z-scores over three sessions are sqrt 2 and -1/sqrt 2. The dense session bests follow the same pattern.
    const session = [Math.SQRT2, Math.SQRT2, Math.SQRT2, -Math.SQRT1_2, -Math.SQRT1_2, -Math.SQRT1_2, -Math.SQRT1_2];
    expectClose(columns['session-bm25'], session);
    expectClose(columns['session-dense'], session);
  });

  it('leaves the dense signals out without dense scores, and refuses the wrong number of them', () => {
    const columns = pipeline.signals('pottery');
    for (const name of ['dense', 'session-dense', 'prev-dense', 'next-dense'] as const) expect(columns[name]).toBeUndefined();
    expect(columns.bm25).toHaveLength(units.length);
    let error: unknown;
    try {
      pipeline.signals('pottery', [0.1, 0.2]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EvomemError);
    expect(error).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringMatching(/2 dense scores for 7 units/) });
  });

  it('marks the turns of a named speaker and the replies to them', () => {
    const columns = pipeline.signals('What dog did Theo adopt?', dense);
    expect([...columns.speaker!]).toEqual([0, 1, 0, 1, 0, 0, 1]);
    expect([...columns['reply-to-speaker']!]).toEqual([0, 0, 1, 0, 1, 0, 0]);
    const nobody = pipeline.signals('What dog was adopted?', dense);
    expect([...nobody.speaker!]).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('prefers turns that state a time for "When ..." questions only', () => {
    // "yesterday" and "August" place an event in time; no other turn does.
    expect([...pipeline.signals('When did Maya join the pottery class?', dense)['when-time']!]).toEqual([1, 0, 0, 0, 0, 1, 0]);
    expect([...pipeline.signals('What did Maya join?', dense)['when-time']!]).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('matches sessions dated in the period a question names, or told of within a month after', () => {
    // May 2023: session 1 (8 May); 20 July is past the month's lag.
    expect([...pipeline.signals('What did Maya start in May 2023?', dense)['date-match']!]).toEqual([1, 1, 1, 0, 0, 0, 0]);
    // "in July" counts from the latest date (15 August 2023): July 2023, and 15 August is within the lag.
    expect([...pipeline.signals('What did Theo do in July?', dense)['date-match']!]).toEqual([0, 0, 0, 1, 1, 1, 1]);
    // From 1 June 2023, the last July was 2022's.
    expect([...pipeline.signals('What did Theo do in July?', dense, Date.UTC(2023, 5, 1))['date-match']!]).toEqual([0, 0, 0, 0, 0, 0, 0]);
    expect([...pipeline.signals('What did Maya make?', dense)['date-match']!]).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it('takes scene labels for timestamps as no date (FriendsQA)', () => {
    const scenes: PipelineUnit[] = [
      { text: 'Ross: I got a monkey', speaker: 'Ross Geller', session: 's01_e23_c01', timestamp: 'scene s01_e23_c01' },
      { text: 'Rachel: in May 2023?', speaker: 'Rachel Green', session: 's01_e23_c01', timestamp: 'scene s01_e23_c01' },
      { text: 'Monica: who named it?', speaker: 'Monica Geller', session: 's01_e23_c02', timestamp: 'scene s01_e23_c02' },
    ];
    const columns = new RetrievalPipeline(scenes).signals('When did Ross get a monkey in May 2023?', [0.3, 0.1, 0.2]);
    expect([...columns['date-match']!]).toEqual([0, 0, 0]);
    expect([...columns.speaker!]).toEqual([1, 0, 0]);
    for (const name of SIGNALS) expect(Array.from(columns[name]!).every(Number.isFinite)).toBe(true);
  });

  it('drops the columns of each part switched off, and keeps all others', () => {
    for (const part of Object.keys(PART_SIGNALS) as (keyof PipelineParts)[]) {
      const columns = new RetrievalPipeline(units, { parts: { [part]: false } }).signals('When did Theo adopt a greyhound?', dense);
      const off = PART_SIGNALS[part];
      expect(Object.keys(columns).sort()).toEqual(SIGNALS.filter((s) => !off.includes(s)).sort());
    }
    expect(() => new RetrievalPipeline(units, { parts: { speaker: false } as PipelineParts })).toThrow(/unknown option 'speaker'.*Did you mean 'speakers'/);
  });
});

describe('fuseSignals', () => {
  it('is the weighted sum of the columns; a column without a weight, or a weight without a column, adds nothing', () => {
    const columns = { bm25: Float64Array.from([1, 2, 3]), speaker: Float64Array.from([0, 1, 0]), dense: Float64Array.from([-1, 0, 1]) };
    // 2 * [1, 2, 3] + 0.5 * [0, 1, 0] = [2, 4.5, 6]; dense has no weight, date-match no column.
    expect([...fuseSignals(columns, { bm25: 2, speaker: 0.5, 'date-match': 10 }, 3)]).toEqual([2, 4.5, 6]);
    // -1 * [1, 2, 3] + 3 * [-1, 0, 1] = [-4, -2, 0]
    expect([...fuseSignals(columns, { bm25: -1, dense: 3 }, 3)]).toEqual([-4, -2, 0]);
    expect([...fuseSignals(columns, {}, 3)]).toEqual([0, 0, 0]);
  });
});

describe('checkFusionWeights', () => {
  it('accepts known signals with finite weights', () => {
    const weights = { bm25: 1, 'session-bm25': 0.4, 'date-match': -0.2 };
    expect(checkFusionWeights('weights', weights)).toEqual(weights);
  });

  it('refuses an unknown signal, naming the nearest, and weights that are not finite numbers', () => {
    expect(() => checkFusionWeights('weights', { 'sesion-bm25': 1 })).toThrow(/unknown option 'sesion-bm25'.*Did you mean 'session-bm25'/);
    for (const bad of [Number.NaN, Infinity, '1']) {
      expect(() => checkFusionWeights('weights', { bm25: bad })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/'bm25' must be a finite number/) }));
    }
    for (const bad of [null, [1, 1], 2]) expect(() => checkFusionWeights('weights', bad)).toThrow(/must be an object of signal weights/);
  });
});

describe('RetrievalPipeline at scale', () => {
  it('reads "now" from 200,000 dated units without overflowing the stack', () => {
    const units = Array.from({ length: 200_000 }, (_, i) => ({ text: `turn ${i % 97}`, session: String(i >> 6), timestamp: i === 199_999 ? '2024-02-10' : '2023-01-01' }));
    const columns = new RetrievalPipeline(units).signals('what happened last month?');
    // "last month" counts from the latest date, February 2024: January 2024, plus the lag.
    expect(columns['date-match']![0]).toBe(0);
    expect(columns['date-match']![199_999]).toBe(1);
  });
});
