import { MONTHS } from '../../util/dates.js';

const DAY = 86_400_000;
const MONTH = `(${MONTHS.map((m) => `${m.slice(0, 3)}(?:${m.slice(3)})?`).join('|')}|sept)\\.?`;
/**
 * Month names that are also common words ("I may go", "we march on", "Jan is here") count
 * only written as a month: capitalized, and next to a day, a year or "in", "of", "last".
 */
const AMBIGUOUS = /^(?:may|mar|march|jan|jun)$/i;
function isMonthHere(text: string, index: number, word: string): boolean {
  if (!AMBIGUOUS.test(word.replace('.', ''))) return true;
  if (word[0] !== word[0]!.toUpperCase()) return false;
  const before = text.slice(Math.max(0, index - 12), index);
  const after = text.slice(index + word.length, index + word.length + 8);
  return /\b(?:in|of|last|this|next|early|late|mid|since|until|by|\d{1,2}(?:st|nd|rd|th)?)\s+$/i.test(before) || /^\.?,?\s+(?:\d{1,2}\b|(?:19|20)\d\d)/.test(after);
}

/**
 * Questions that ask for a time: their evidence states one ("yesterday", "last May", "in
 * 2022"). "When" opens the question or asks ("when did"); "Where is Lydia when her mom
 * calls?" does not ask when.
 */
const ASKS_WHEN = /^\W*when\b|\bwhen (?:did|does|do|was|were|is|will|would|has|have|had)\b|\bwhat (?:year|month|day|date|time)\b|\bhow long (?:ago|before|after)\b/i;
/** Words and forms that place an event in time. */
const STATES_TIME = new RegExp(
  String.raw`\b(?:yesterday|today|tonight|tomorrow|ago|recently|lately|weekend|(?:last|next|this|past) (?:week|month|year|night|summer|winter|spring|fall|autumn|monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?:19|20)\d\d|${MONTH})\b`,
  'i',
);

/** True for a question that asks when something happened. */
export function asksWhen(query: string): boolean {
  return ASKS_WHEN.test(query);
}

/** True for a text that places something in time: a date, a month, "yesterday", "last week". */
export function statesTime(text: string): boolean {
  for (const m of text.matchAll(new RegExp(STATES_TIME.source, 'gi'))) if (isMonthHere(text, m.index, m[0])) return true;
  return false;
}

/** A span of time a question points at, in ms since 1970 (UTC, as the memory's dates are read). */
export interface Period {
  start: number;
  end: number;
}

const utc = (y: number, m = 0, d = 1) => Date.UTC(y, m, d);
const monthIndex = (name: string) => MONTHS.findIndex((m) => m.startsWith(name.toLowerCase().replace('.', '').slice(0, 3)));
/** A real calendar day: no 31 February. */
const isDay = (y: number, mo: number, d: number) => new Date(Date.UTC(y, mo, d)).getUTCDate() === d;

/**
 * The periods a question's time expressions name, relative to `now` (the latest time in the
 * memory, or the question's own date): "in 2022", "May 2023", "on 13 October, 2023",
 * "October 13, 2023", "in June" (the last June up to now), "last year", "last month",
 * "last week". A question without one gives [].
 *
 * @example
 * queryPeriods('What did she paint in July 2023?', Date.UTC(2023, 9, 1)); // [{ start: Jul 1 2023, end: Aug 1 2023 }]
 */
export function queryPeriods(query: string, now: number | undefined): Period[] {
  const periods: Period[] = [];
  const taken: [number, number][] = [];
  const take = (m: RegExpExecArray, p: Period) => {
    if (taken.some(([a, b]) => m.index < b && a < m.index + m[0].length)) return;
    taken.push([m.index, m.index + m[0].length]);
    periods.push(p);
  };
  // A month that is also a word ("this may be") is no month; its match is skipped.
  const all = (pattern: string) => ([...query.matchAll(new RegExp(pattern, 'gi'))] as RegExpExecArray[]).filter((m) => {
    const month = /[a-z]+\.?/i.exec(m[0].replace(/^(?:in|during|last|this|of) /i, '').replace(/^\d{1,2}(?:st|nd|rd|th)? /, ''));
    return !month || isMonthHere(query, m.index + m[0].indexOf(month[0]), month[0]);
  });
  for (const m of all(String.raw`\b(\d{1,2})(?:st|nd|rd|th)? ${MONTH},? ((?:19|20)\d\d)\b`)) day(m, Number(m[3]), monthIndex(m[2]!), Number(m[1]));
  for (const m of all(String.raw`\b${MONTH} (\d{1,2})(?:st|nd|rd|th)?,? ((?:19|20)\d\d)\b`)) day(m, Number(m[3]), monthIndex(m[1]!), Number(m[2]));
  for (const m of all(String.raw`\b${MONTH},? ((?:19|20)\d\d)\b`)) {
    const y = Number(m[2]);
    const mo = monthIndex(m[1]!);
    take(m, { start: utc(y, mo), end: utc(y, mo + 1) });
  }
  for (const m of all(String.raw`\b((?:19|20)\d\d)\b`)) take(m, { start: utc(Number(m[1])), end: utc(Number(m[1]) + 1) });
  if (now !== undefined) {
    const today = new Date(now);
    const y = today.getUTCFullYear();
    for (const m of all(String.raw`\b(?:in|during|last|this|of) ${MONTH}\b`)) {
      const mo = monthIndex(m[1]!);
      const year = mo <= today.getUTCMonth() ? y : y - 1;
      take(m, { start: utc(year, mo), end: utc(year, mo + 1) });
    }
    for (const m of all(String.raw`\blast year\b`)) take(m, { start: utc(y - 1), end: utc(y) });
    for (const m of all(String.raw`\blast month\b`)) take(m, { start: utc(y, today.getUTCMonth() - 1), end: utc(y, today.getUTCMonth()) });
    for (const m of all(String.raw`\blast week\b`)) take(m, { start: now - 14 * DAY, end: now - 7 * DAY });
  }
  return periods;

  function day(m: RegExpExecArray, y: number, mo: number, d: number) {
    if (mo >= 0 && isDay(y, mo, d)) take(m, { start: utc(y, mo, d), end: utc(y, mo, d + 1) });
  }
}

/**
 * 1 for each unit dated in one of the periods or within `lag` days after it (people tell of
 * an event in the sessions that follow it: a June trip is told of in July), else 0. Units
 * without a date never match.
 */
export function dateMatch(times: readonly (number | undefined)[], periods: readonly Period[], lagDays = 31): Float64Array {
  return Float64Array.from(times, (t) => (t !== undefined && periods.some((p) => t >= p.start && t < p.end + lagDays * DAY) ? 1 : 0));
}
