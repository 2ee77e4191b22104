/** The forms `parseTime` reads, as error messages list them. */
export const TIME_FORMATS =
  'ISO 8601 ("2023-05-08", "2023-05-08T13:56:00", "2023-05-08T13:56:00Z", "2023-05-08T13:56:00+02:00"), ' +
  `LoCoMo's "1:56 pm on 8 May, 2023" or LongMemEval's "2023/05/20 (Sat) 02:21"`;

/** A point in time read from text. */
export interface ParsedTime {
  /**
   * Milliseconds since 1970-01-01T00:00Z. A time written without an offset (LoCoMo's and
   * LongMemEval's never have one) is read as UTC, so such times compare as written.
   */
  ms: number;
  /** The same time as ISO 8601 without offset ("2023-05-08T13:56:00"): the wall time as written, or UTC for a time with an offset. */
  local: string;
  format: 'iso' | 'locomo' | 'longmemeval';
}

/** English month names, lower case, January first. */
export const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(?:\s*([Zz]|[+-]\d{2}(?::?\d{2})?))?)?$/;
const LOCOMO = /^(\d{1,2}):(\d{2})\s*([ap]m)\s+on\s+(\d{1,2})\s+([a-z]+)\.?,?\s+(\d{4})$/i;
const LONGMEMEVAL = /^(\d{4})\/(\d{2})\/(\d{2})(?:\s*\([a-z]+\))?(?:\s+(\d{2}):(\d{2}))?$/i;

/**
 * Reads a time in one of `TIME_FORMATS`, checking that it exists (no 30 February, no
 * 25:00); undefined for anything else.
 *
 * @example
 * parseTime('1:56 pm on 8 May, 2023')!.ms < parseTime('2023-05-08T14:00:00Z')!.ms; // true
 */
export function parseTime(text: string): ParsedTime | undefined {
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  const iso = ISO.exec(trimmed);
  if (iso) {
    const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone] = iso;
    const ms = Number(fraction.padEnd(3, '0').slice(0, 3));
    return build('iso', Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(s), ms, zone === undefined ? 0 : offsetMinutes(zone));
  }
  const locomo = LOCOMO.exec(trimmed);
  if (locomo) {
    const [, h, mi, ampm, d, monthName, y] = locomo;
    const name = monthName!.toLowerCase();
    const month = MONTHS.findIndex((m) => m === name || (name.length >= 3 && m.startsWith(name)));
    const hour12 = Number(h);
    if (month < 0 || hour12 < 1 || hour12 > 12) return undefined;
    return build('locomo', Number(y), month + 1, Number(d), (hour12 % 12) + (ampm!.toLowerCase() === 'pm' ? 12 : 0), Number(mi), 0, 0, 0);
  }
  const lme = LONGMEMEVAL.exec(trimmed);
  if (lme) {
    const [, y, mo, d, h = '0', mi = '0'] = lme;
    return build('longmemeval', Number(y), Number(mo), Number(d), Number(h), Number(mi), 0, 0, 0);
  }
  return undefined;
}

/** True when both parse and `a` is strictly earlier than `b`: a value that does not parse is never out of order. */
export function isEarlier(a: string, b: string): boolean {
  const ta = parseTime(a);
  const tb = parseTime(b);
  return ta !== undefined && tb !== undefined && ta.ms < tb.ms;
}

function build(format: ParsedTime['format'], y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number, offset: number | undefined): ParsedTime | undefined {
  if (offset === undefined || mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  const date = new Date(Date.UTC(2000, 0, 1, h, mi, s, ms));
  // Date.UTC maps years 0-99 to 1900-1999; setUTCFullYear does not.
  date.setUTCFullYear(y, mo - 1, d);
  const time = date.getTime() - offset * 60_000;
  return { ms: time, local: offset === 0 ? wallTime(y, mo, d, h, mi, s, ms) : new Date(time).toISOString().replace(/(\.000)?Z$/, ''), format };
}

/** "Z", "+02", "+0200" or "+02:00" in minutes east of UTC; undefined beyond +-23:59. */
function offsetMinutes(zone: string): number | undefined {
  if (zone === 'Z' || zone === 'z') return 0;
  const hours = Number(zone.slice(1, 3));
  const minutes = Number(zone.replace(':', '').slice(3, 5) || '0');
  if (hours > 23 || minutes > 59) return undefined;
  return (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
}

function daysIn(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function wallTime(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(y, 4)}-${p(mo)}-${p(d)}T${p(h)}:${p(mi)}:${p(s)}${ms ? `.${p(ms, 3)}` : ''}`;
}
