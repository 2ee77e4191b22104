const BLANK = /^\p{White_Space}*$/u;

/** True when `text` holds only white space (Unicode White_Space: spaces, tabs, line breaks, no-break and ideographic spaces), or nothing. */
export function isBlank(text: string): boolean {
  return BLANK.test(text);
}

/** True when the character `c` is Unicode White_Space. */
export function isWhiteSpace(c: string): boolean {
  return c.length > 0 && BLANK.test(c);
}
