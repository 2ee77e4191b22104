import { parseTime } from '../util/dates.js';

/**
 * Parses LoCoMo's session times ("1:56 pm on 8 May, 2023") and LongMemEval's
 * ("2023/05/20 (Sat) 02:21") to ISO 8601 without zone. Returns undefined for anything
 * else, and for times that do not exist (31 April, 13:00 pm).
 */
export function parseDialogueDate(text: string): string | undefined {
  const time = parseTime(text);
  return time && time.format !== 'iso' ? time.local : undefined;
}
