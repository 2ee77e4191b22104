import { Tokenizer } from '@huggingface/tokenizers';
import { EvomemError } from '../errors.js';
import { describeValue } from '../util/options.js';
import { isWhiteSpace } from '../util/text.js';

/** What happens to a text longer than the model's `maxLength` tokens. */
export type OverflowPolicy = 'truncate' | 'error' | 'chunk';

/** One model input row: token ids with the model's special tokens. */
export type TokenRow = number[];

const OVERFLOW_POLICIES: readonly string[] = ['truncate', 'error', 'chunk'];

/**
 * Longest piece of text tokenized in one call. The library's sentencepiece lattice gets
 * slower per character above a few thousand (measured: 2.2 s/MB in 4,096-character pieces,
 * 7.3 s/MB in 16,384), and one call over some hundred thousand tokens overflows its stack.
 */
export const PIECE_CHARS = 4096;

/**
 * Put before every piece after the first, so that the piece is tokenized as it is in the
 * whole text: a piece starts with a space, and tokenizers that mark word starts (the
 * sentencepiece `▁` of Metaspace, an `\A` prepend) would otherwise mark a text start there.
 */
const ANCHOR = 'a';

/**
 * Wraps a Hugging Face tokenizer with what `@huggingface/tokenizers` leaves to the caller:
 * truncation that keeps the closing special tokens (as Python `tokenizers` and
 * sentence-transformers do), splitting into windows for the `chunk` policy, and texts of
 * any length.
 *
 * Texts are tokenized in pieces of at most `PIECE_CHARS` characters, cut where a space
 * starts (the library overflows its stack on one call of some hundred thousand tokens,
 * and its sentencepiece lattice slows down on long inputs). WordPiece and sentencepiece
 * tokenizers never join words across a space, so the pieces give the ids of the whole
 * text (longText.test.ts checks it on the real tokenizers); truncation and `error` read
 * only as many pieces as they need. A run of more than `PIECE_CHARS` characters without a
 * space is cut where it reaches that length, which can change the ids next to the cut.
 *
 * @example
 * const tokenizer = new TextTokenizer(tokenizerJson, tokenizerConfig);
 * const [row] = tokenizer.encode('What did she say?', 128, 'truncate', 0);
 */
export class TextTokenizer {
  readonly #tokenizer: Tokenizer;
  readonly #prefix: number[];
  readonly #suffix: number[];
  readonly #anchor: number[];
  /** Id used to pad rows; attention masks hide it. */
  readonly padId: number;

  constructor(tokenizerJson: object, tokenizerConfig: object) {
    for (const [name, value] of [['tokenizerJson', tokenizerJson], ['tokenizerConfig', tokenizerConfig]] as const) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        throw new EvomemError('MODEL_FILE_INVALID', `new TextTokenizer: ${name} must be the parsed JSON object of the model's ${name === 'tokenizerJson' ? 'tokenizer.json' : 'tokenizer_config.json'}, got ${describeValue(value)}.`);
      }
    }
    try {
      this.#tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
      // The special tokens wrapped around a single sequence, read off one encoding, so any
      // template (BERT's [CLS] .. [SEP], RoBERTa's <s> .. </s>, none at all) is handled alike.
      const probe = 'hello world';
      const withSpecials = this.#tokenizer.encode(probe, { add_special_tokens: true }).ids;
      const content = this.#whole(probe);
      const at = indexOfSequence(withSpecials, content);
      this.#prefix = at < 0 ? [] : withSpecials.slice(0, at);
      this.#suffix = at < 0 ? [] : withSpecials.slice(at + content.length);
      this.#anchor = this.#whole(ANCHOR);
      const config = tokenizerConfig as Record<string, unknown>;
      const padToken = typeof config.pad_token === 'string' ? config.pad_token : undefined;
      this.padId = (padToken === undefined ? undefined : this.#tokenizer.token_to_id(padToken)) ?? 0;
    } catch (error) {
      throw new EvomemError('MODEL_FILE_INVALID', `new TextTokenizer: the tokenizer.json given is not a working Hugging Face tokenizer (${(error as Error).message}). Re-download or re-export it.`, {
        cause: error,
      });
    }
  }

  /** Number of special tokens added around each sequence. */
  get specialCount(): number {
    return this.#prefix.length + this.#suffix.length;
  }

  /**
   * Tokenizes `text` into one row (or several for `overflow: 'chunk'`) of at most
   * `maxLength` ids. `index` names the input in errors.
   */
  encode(text: string, maxLength: number, overflow: OverflowPolicy, index: number): TokenRow[] {
    if (typeof text !== 'string') throw new EvomemError('INVALID_OPTION', `TextTokenizer.encode: texts[${index}] must be a string, got ${describeValue(text)}.`);
    if (!Number.isInteger(maxLength) || maxLength < 1) throw new EvomemError('INVALID_OPTION', `TextTokenizer.encode: maxLength must be a positive integer, got ${describeValue(maxLength)}.`);
    if (!OVERFLOW_POLICIES.includes(overflow)) throw new EvomemError('INVALID_OPTION', `TextTokenizer.encode: overflow must be "truncate", "error" or "chunk", got ${describeValue(overflow)}.`);
    const budget = maxLength - this.specialCount;
    // Truncation needs the first `budget` ids, `error` one more to know the text is too long.
    const enough = overflow === 'chunk' ? Infinity : Math.max(budget, 0) + 1;
    const { ids: content, chars } = this.#contentIds(text, enough);
    if (content.length <= budget) return [this.#wrap(content)];
    if (overflow === 'error') {
      const count = content.length + this.specialCount;
      const size = chars < text.length ? `over ${maxLength} tokens (${count} in its first ${chars} of ${text.length} characters)` : `${count} tokens`;
      throw new EvomemError('INPUT_TOO_LONG', `texts[${index}] is ${size}; the model takes at most ${maxLength}. Shorten it, or pass overflow: 'truncate' or 'chunk'.`);
    }
    if (budget < 1) throw new EvomemError('INVALID_OPTION', `maxLength ${maxLength} leaves no room beside ${this.specialCount} special tokens.`);
    if (overflow === 'truncate') return [this.#wrap(content.slice(0, budget))];
    const rows: TokenRow[] = [];
    for (let start = 0; start < content.length; start += budget) rows.push(this.#wrap(content.slice(start, start + budget)));
    return rows;
  }

  /** Token ids without special tokens, for inspection and tests. */
  ids(text: string): number[] {
    return this.#contentIds(text, Infinity).ids;
  }

  /**
   * The ids of `text` without special tokens, piece by piece, stopping once there are at
   * least `enough`; `chars` is how much of the text they cover.
   */
  #contentIds(text: string, enough: number): { ids: number[]; chars: number } {
    if (text.length <= PIECE_CHARS) return { ids: this.#whole(text), chars: text.length };
    const ids: number[] = [];
    let start = 0;
    while (start < text.length && ids.length < enough) {
      const end = pieceEnd(text, start);
      const piece = text.slice(start, end);
      for (const id of start > 0 && text[start] === ' ' ? this.#anchored(piece) : this.#whole(piece)) ids.push(id);
      start = end;
    }
    return { ids, chars: start };
  }

  /** A piece that starts with a space, tokenized after the anchor word, without the anchor's ids. */
  #anchored(piece: string): number[] {
    const ids = this.#whole(ANCHOR + piece);
    const anchor = this.#anchor;
    return anchor.every((id, i) => ids[i] === id) ? ids.slice(anchor.length) : this.#whole(piece);
  }

  #whole(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  #wrap(content: number[]): TokenRow {
    return [...this.#prefix, ...content, ...this.#suffix];
  }
}

/**
 * Where the piece from `start` ends: before the last space within `PIECE_CHARS` that starts
 * a run of white space (cutting inside a run would leave a trailing space, which Metaspace
 * tokenizers turn into a token of its own), else at the limit, never inside a surrogate pair.
 */
function pieceEnd(text: string, start: number): number {
  const limit = start + PIECE_CHARS;
  if (limit >= text.length) return text.length;
  for (let p = limit; p > start; p--) if (text.charCodeAt(p) === 32 && !isWhiteSpace(text[p - 1]!)) return p;
  const low = text.charCodeAt(limit);
  return low >= 0xdc00 && low <= 0xdfff ? limit - 1 : limit;
}

function indexOfSequence(haystack: number[], needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
