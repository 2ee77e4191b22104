import { describe, expect, it } from 'vitest';
import { isEarlier, parseTime } from './dates.js';

const utc = (iso: string) => Date.parse(iso);

describe('parseTime', () => {
  it('reads ISO 8601 with Z, with offsets both ways, date-only and with fractions', () => {
    expect(parseTime('2023-05-08T13:56:00Z')?.ms).toBe(utc('2023-05-08T13:56:00Z'));
    expect(parseTime('2023-05-08T13:56:00+02:00')?.ms).toBe(utc('2023-05-08T11:56:00Z'));
    expect(parseTime('2023-05-08T13:56:00-0530')?.ms).toBe(utc('2023-05-08T19:26:00Z'));
    expect(parseTime('2023-05-08T13:56+02')?.ms).toBe(utc('2023-05-08T11:56:00Z'));
    expect(parseTime('2023-05-08')?.ms).toBe(utc('2023-05-08T00:00:00Z'));
    expect(parseTime('2023-05-08 13:56:07.25')).toEqual({ ms: utc('2023-05-08T13:56:07.250Z'), local: '2023-05-08T13:56:07.250', format: 'iso' });
    // An offset that crosses a month end of a leap year.
    expect(parseTime('2024-03-01T00:30:00+02:00')?.ms).toBe(utc('2024-02-29T22:30:00Z'));
    expect(parseTime('0099-01-01')?.ms).toBe(utc('0099-01-01T00:00:00Z'));
  });

  it("reads the dataset readers' forms as wall time", () => {
    expect(parseTime('1:56 pm on 8 May, 2023')).toEqual({ ms: utc('2023-05-08T13:56:00Z'), local: '2023-05-08T13:56:00', format: 'locomo' });
    expect(parseTime('12:09 am on 13 September, 2023')?.local).toBe('2023-09-13T00:09:00');
    expect(parseTime('12:05 PM on 15 Jul 2023')?.local).toBe('2023-07-15T12:05:00');
    expect(parseTime('2023/05/20 (Sat) 02:21')).toEqual({ ms: utc('2023-05-20T02:21:00Z'), local: '2023-05-20T02:21:00', format: 'longmemeval' });
    expect(parseTime('2023/05/20')?.local).toBe('2023-05-20T00:00:00');
  });

  it('refuses what is not a date, or not a day that exists', () => {
    for (const text of ['not a date', '', '2023-13-45', '2023-02-29', '2023-04-31T10:00:00', '2023-05-08T24:00:00', '2023-05-08T13:60', '2023-05-08T13:56:00+25:00', '13:05 pm on 1 May, 2023', '1:56 pm on 8 Mai, 2023', '2023/02/30 (Thu) 10:00', '8 May 2023', '1683554160']) {
      expect(parseTime(text), text).toBeUndefined();
    }
    expect(parseTime('2024-02-29')).toBeDefined();
    expect(parseTime(42 as never)).toBeUndefined();
  });
});

describe('isEarlier', () => {
  it('compares instants, across formats and offsets', () => {
    // LoCoMo's own time after an ISO date of the same morning: in order.
    expect(isEarlier('1:56 pm on 8 May, 2023', '2023-05-08T09:00:00')).toBe(false);
    expect(isEarlier('2023-05-08T09:00:00', '1:56 pm on 8 May, 2023')).toBe(true);
    // 13:56 at +02:00 is 11:56 UTC: before 12:00Z, though its text sorts after.
    expect(isEarlier('2023-05-08T13:56:00+02:00', '2023-05-08T12:00:00Z')).toBe(true);
    // 09:00 at -05:00 is 14:00 UTC: after 12:00Z, though its text sorts before.
    expect(isEarlier('2023-05-08T09:00:00-05:00', '2023-05-08T12:00:00Z')).toBe(false);
    expect(isEarlier('2023/05/20 (Sat) 02:21', '2023-05-20T02:22:00Z')).toBe(true);
    expect(isEarlier('legacy text', '2023-05-20')).toBe(false);
  });
});
