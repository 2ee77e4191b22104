import { ENGLISH_STOPWORDS } from '../Bm25Index.js';

/** Word characters of a name or query, lower-cased: "Rachel's" gives "rachel", "s". */
function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

/** The words that name a speaker: three letters or more and no stopword ("The Guys" is named by "guys", not "the"; "#ALL#" by nothing). */
function nameWords(speaker: string): string[] {
  return words(speaker).filter((w) => w.length >= 3 && !ENGLISH_STOPWORDS.has(w));
}

/** A turn's speakers: a multi-party line ("Ross Geller and Rachel Green") has several. */
export function speakersOf(speaker: string | undefined): string[] {
  return speaker ? speaker.split(/\s*,\s*(?:(?:and|&)\s+)?|\s+(?:and|&)\s+/).filter((s) => s.trim() !== '') : [];
}

/**
 * The speakers a query names: a speaker is named when one of the words of its name (three
 * letters or more and not a stopword, so "Jo", initials and "The" never match by accident)
 * is a word of the query.
 * "What did Mel tell Caroline" names Caroline; "Ross Geller" is named by "Ross".
 *
 * @example
 * namedSpeakers('What did Caroline research?', ['Caroline', 'Melanie']); // Set { 'Caroline' }
 */
export function namedSpeakers(query: string, speakers: Iterable<string>): Set<string> {
  const asked = new Set(words(query));
  const named = new Set<string>();
  for (const speaker of speakers) if (nameWords(speaker).some((w) => asked.has(w))) named.add(speaker);
  return named;
}

/**
 * 1 for each unit spoken by a named speaker, else 0; each unit's speakers as `speakersOf` splits them. Read at the next turn (with
 * `fromNeighbour(.., links.prev)`), it marks replies to a named speaker: with two named
 * speakers, "what did X tell Y" prefers their exchanges.
 */
export function speakerMatch(speakers: readonly (readonly string[])[], named: ReadonlySet<string>): Float64Array {
  return Float64Array.from(speakers, (s) => (named.size > 0 && s.some((p) => named.has(p)) ? 1 : 0));
}
