import { Tokenizer } from '@huggingface/tokenizers';
import { EvomemError } from '../errors.js';

/** What happens to a text longer than the model's `maxLength` tokens. */
export type OverflowPolicy = 'truncate' | 'error' | 'chunk';

/** One model input row: token ids with the model's special tokens. */
export type TokenRow = number[];

/**
 * Wraps a Hugging Face tokenizer with what `@huggingface/tokenizers` leaves to the caller:
 * truncation that keeps the closing special tokens (as Python `tokenizers` and
 * sentence-transformers do), and splitting into windows for the `chunk` policy.
 */
export class TextTokenizer {
  readonly #tokenizer: Tokenizer;
  readonly #prefix: number[];
  readonly #suffix: number[];
  /** Id used to pad rows; attention masks hide it. */
  readonly padId: number;

  constructor(tokenizerJson: object, tokenizerConfig: object) {
    this.#tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    // The special tokens wrapped around a single sequence, read off one encoding, so any
    // template (BERT's [CLS] .. [SEP], RoBERTa's <s> .. </s>, none at all) is handled alike.
    const probe = 'hello world';
    const withSpecials = this.#tokenizer.encode(probe, { add_special_tokens: true }).ids;
    const content = this.#tokenizer.encode(probe, { add_special_tokens: false }).ids;
    const at = indexOfSequence(withSpecials, content);
    this.#prefix = at < 0 ? [] : withSpecials.slice(0, at);
    this.#suffix = at < 0 ? [] : withSpecials.slice(at + content.length);
    const config = tokenizerConfig as Record<string, unknown>;
    const padToken = typeof config.pad_token === 'string' ? config.pad_token : undefined;
    this.padId = (padToken === undefined ? undefined : this.#tokenizer.token_to_id(padToken)) ?? 0;
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
    const ids = this.#tokenizer.encode(text, { add_special_tokens: true }).ids;
    if (ids.length <= maxLength) return [ids];
    if (overflow === 'error') {
      throw new EvomemError(
        'INPUT_TOO_LONG',
        `texts[${index}] is ${ids.length} tokens; the model takes at most ${maxLength}. Shorten it, or pass overflow: 'truncate' or 'chunk'.`,
      );
    }
    const budget = maxLength - this.specialCount;
    if (budget < 1) throw new EvomemError('INVALID_OPTION', `maxLength ${maxLength} leaves no room beside ${this.specialCount} special tokens.`);
    const content = ids.slice(this.#prefix.length, ids.length - this.#suffix.length);
    if (overflow === 'truncate') return [this.#wrap(content.slice(0, budget))];
    const rows: TokenRow[] = [];
    for (let start = 0; start < content.length; start += budget) rows.push(this.#wrap(content.slice(start, start + budget)));
    return rows;
  }

  /** Token ids without special tokens, for inspection and tests. */
  ids(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  #wrap(content: number[]): TokenRow {
    return [...this.#prefix, ...content, ...this.#suffix];
  }
}

function indexOfSequence(haystack: number[], needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
