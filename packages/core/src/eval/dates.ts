const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const pad = (n: number) => String(n).padStart(2, '0');

/**
 * Parses LoCoMo's session times ("1:56 pm on 8 May, 2023") and LongMemEval's
 * ("2023/05/20 (Sat) 02:21") to ISO 8601 without zone. Returns undefined for anything else.
 */
export function parseDialogueDate(text: string): string | undefined {
  const locomo = /^\s*(\d{1,2}):(\d{2})\s*(am|pm)\s+on\s+(\d{1,2})\s+([a-z]+),?\s+(\d{4})\s*$/i.exec(text);
  if (locomo) {
    const [, h, m, ampm, day, monthName, year] = locomo;
    const month = MONTHS.indexOf(monthName!.toLowerCase());
    if (month < 0) return undefined;
    const hour = (Number(h) % 12) + (ampm!.toLowerCase() === 'pm' ? 12 : 0);
    return `${year}-${pad(month + 1)}-${pad(Number(day))}T${pad(hour)}:${m}:00`;
  }
  const lme = /^\s*(\d{4})\/(\d{2})\/(\d{2})(?:\s*\([A-Za-z]+\))?(?:\s+(\d{2}):(\d{2}))?\s*$/.exec(text);
  if (lme) {
    const [, y, mo, d, h, mi] = lme;
    return `${y}-${mo}-${d}T${h ?? '00'}:${mi ?? '00'}:00`;
  }
  return undefined;
}
