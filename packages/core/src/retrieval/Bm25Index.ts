/**
 * NLTK's English stopword list (179 words, the most widely used one). Questions are full of
 * "what", "did", "when", "she": with Lucene's 33-word list those match every turn, and
 * BM25 on LoCoMo dev drops from recall@5 0.502 to 0.441 (see the issue #4 note).
 */
export const ENGLISH_STOPWORDS: ReadonlySet<string> = new Set(
  (
    "i me my myself we our ours ourselves you you're you've you'll you'd your yours yourself yourselves he him his himself she she's her hers " +
    "herself it it's its itself they them their theirs themselves what which who whom this that that'll these those am is are was were be been " +
    'being have has had having do does did doing a an the and but if or because as until while of at by for with about against between into ' +
    'through during before after above below to from up down in out on off over under again further then once here there when where why how ' +
    'all any both each few more most other some such no nor not only own same so than too very s t can will just don don\'t should should\'ve ' +
    "now d ll m o re ve y ain aren aren't couldn couldn't didn didn't doesn doesn't hadn hadn't hasn hasn't haven haven't isn isn't ma mightn " +
    "mightn't mustn mustn't needn needn't shan shan't shouldn shouldn't wasn wasn't weren weren't won won't wouldn wouldn't"
  ).split(' '),
);

/** Lucene's default English stop set (EnglishAnalyzer), 33 words, for comparison. */
export const LUCENE_STOPWORDS: ReadonlySet<string> = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(' '),
);

/** Lower-cased runs of letters and digits, stopwords removed (apostrophes split words, so "didn't" gives "didn", "t"). */
export function bm25Tokens(text: string, stopwords: ReadonlySet<string> = ENGLISH_STOPWORDS): string[] {
  return (text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []).filter((t) => !stopwords.has(t));
}

export interface Bm25Options {
  /** Term-frequency saturation. @default 1.2 */
  k1?: number;
  /** Length normalization. @default 0.75 */
  b?: number;
  /** Words ignored in documents and queries. @default ENGLISH_STOPWORDS */
  stopwords?: ReadonlySet<string>;
}

/**
 * Okapi BM25 over a fixed list of texts, with Lucene's idf, ln(1 + (N - df + 0.5) / (df + 0.5)),
 * so common words never score negative. Query words count as often as they occur.
 *
 * @example
 * const index = new Bm25Index(['Maya: I signed up for pottery', 'Theo: tomatoes are red']);
 * index.scores('what class did Maya sign up for'); // Float64Array [0.9.., 0]
 */
export class Bm25Index {
  readonly #k1: number;
  readonly #b: number;
  readonly #stopwords: ReadonlySet<string>;
  readonly #postings = new Map<string, { doc: number; tf: number }[]>();
  readonly #lengths: Float64Array;
  readonly #avgLength: number;

  constructor(texts: readonly string[], options: Bm25Options = {}) {
    this.#k1 = options.k1 ?? 1.2;
    this.#b = options.b ?? 0.75;
    this.#stopwords = options.stopwords ?? ENGLISH_STOPWORDS;
    this.#lengths = new Float64Array(texts.length);
    texts.forEach((text, doc) => {
      const tokens = bm25Tokens(text, this.#stopwords);
      this.#lengths[doc] = tokens.length;
      const tf = new Map<string, number>();
      for (const t of tokens) tf.set(t, (tf.get(t) ?? 0) + 1);
      for (const [term, count] of tf) {
        let list = this.#postings.get(term);
        if (!list) this.#postings.set(term, (list = []));
        list.push({ doc, tf: count });
      }
    });
    this.#avgLength = texts.length ? this.#lengths.reduce((a, b) => a + b, 0) / texts.length || 1 : 1;
  }

  /** One score per text, in index order. */
  scores(query: string): Float64Array {
    const n = this.#lengths.length;
    const out = new Float64Array(n);
    for (const term of bm25Tokens(query, this.#stopwords)) {
      const list = this.#postings.get(term);
      if (!list) continue;
      const idf = Math.log(1 + (n - list.length + 0.5) / (list.length + 0.5));
      for (const { doc, tf } of list) {
        const norm = this.#k1 * (1 - this.#b + (this.#b * this.#lengths[doc]!) / this.#avgLength);
        out[doc]! += (idf * tf * (this.#k1 + 1)) / (tf + norm);
      }
    }
    return out;
  }
}
