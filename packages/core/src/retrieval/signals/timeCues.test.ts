import { describe, expect, it } from 'vitest';
import { asksWhen, dateMatch, queryPeriods, statesTime } from './timeCues.js';

const day = (y: number, m: number, d: number) => Date.UTC(y, m - 1, d);

describe('time cues', () => {
  it('tells questions that ask when, and texts that place an event in time', () => {
    expect(asksWhen('When did Melanie go camping?')).toBe(true);
    expect(asksWhen('What year did she move?')).toBe(true);
    expect(asksWhen('What did Melanie paint?')).toBe(false);
    expect(statesTime('We went camping last weekend')).toBe(true);
    expect(statesTime('I painted it in July 2023')).toBe(true);
    expect(statesTime('I love painting sunsets')).toBe(false);
    // Month names that are also words count only where they are written as a month.
    expect(statesTime('the mayor spoke')).toBe(false);
    expect(statesTime('I may go, we march on, Jan is here')).toBe(false);
    expect(statesTime('We met in May')).toBe(true);
    expect(statesTime('It was 8 May, a Monday')).toBe(true);
    expect(asksWhen('Where is Lydia when her mom calls?')).toBe(false);
    expect(asksWhen('And when did they meet?')).toBe(true);
  });

  it('reads dates, months and years, each expression once', () => {
    const now = day(2023, 10, 20);
    expect(queryPeriods('What did she show on October 13, 2023?', now)).toEqual([{ start: day(2023, 10, 13), end: day(2023, 10, 14) }]);
    expect(queryPeriods('What did Gina find on 1 February, 2023?', now)).toEqual([{ start: day(2023, 2, 1), end: day(2023, 2, 2) }]);
    expect(queryPeriods('What did they paint in July 2023?', now)).toEqual([{ start: day(2023, 7, 1), end: day(2023, 8, 1) }]);
    expect(queryPeriods('How many times in 2022?', now)).toEqual([{ start: day(2022, 1, 1), end: day(2023, 1, 1) }]);
  });

  it('reads months and "last ..." relative to now, and nothing without a now', () => {
    expect(queryPeriods('When did Melanie go camping in June?', day(2023, 10, 20))).toEqual([{ start: day(2023, 6, 1), end: day(2023, 7, 1) }]);
    // A month after now's month is last year's.
    expect(queryPeriods('What happened in November?', day(2023, 10, 20))).toEqual([{ start: day(2022, 11, 1), end: day(2022, 12, 1) }]);
    expect(queryPeriods('What did she do last year?', day(2023, 10, 20))).toEqual([{ start: day(2022, 1, 1), end: day(2023, 1, 1) }]);
    expect(queryPeriods('When did Melanie go camping in June?', undefined)).toEqual([]);
    expect(queryPeriods('What did Melanie paint?', day(2023, 10, 20))).toEqual([]);
    expect(queryPeriods('Why this may be unclear, in March?', day(2023, 10, 20))).toEqual([{ start: day(2023, 3, 1), end: day(2023, 4, 1) }]);
    expect(queryPeriods('What happened in Sept 2022?', day(2023, 10, 20))).toEqual([{ start: day(2022, 9, 1), end: day(2022, 10, 1) }]);
    // No 31 February: the impossible day names no day; its month still counts.
    expect(queryPeriods('What did she do on 31 February, 2023?', day(2023, 10, 20))).toEqual([{ start: day(2023, 2, 1), end: day(2023, 3, 1) }]);
  });

  it('matches units dated in a period or told of within the lag after it; undated units never match', () => {
    const june = [{ start: day(2023, 6, 1), end: day(2023, 7, 1) }];
    const times = [day(2023, 5, 30), day(2023, 6, 15), day(2023, 7, 20), day(2023, 8, 5), undefined];
    expect([...dateMatch(times, june)]).toEqual([0, 1, 1, 0, 0]);
    expect([...dateMatch(times, june, 0)]).toEqual([0, 1, 0, 0, 0]);
    expect([...dateMatch(times, [])]).toEqual([0, 0, 0, 0, 0]);
  });
});
