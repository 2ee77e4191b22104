/** Ids the reference never produces; their pieces are renamed so no text can match them. */
const RESERVED_IDS = 6;

/**
 * The SentencePiece unigram vocabulary of USE lite (`vocab.json`: [piece, score] pairs,
 * id = index) as a Hugging Face `tokenizer.json` that reproduces the reference tokenizer:
 *
 * - NFKC, each U+0020 space -> "▁", and "▁" before any non-empty text (a zero-width regex
 *   rather than Prepend, which would also turn "" into "▁");
 * - ids 1-5 are never produced: their pieces get a literal space, which normalized text
 *   never contains; id 0 is the unknown token, consecutive unknowns are merged;
 * - pieces with a null score score 0;
 * - the reference's Viterbi treats a best score of exactly 0 as "unset", so the zero-score
 *   pieces "▁:", "▁:)", "▁:(", "▁:-)" never win at the start of a text: a pre-tokenizer that
 *   isolates a leading "▁" before ":" gives the same segmentation.
 */
export function buildTokenizerJson(vocab: [string, number | null][]): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFKC' },
        { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
        { type: 'Replace', pattern: { Regex: '\\A(?=[\\s\\S])' }, content: '▁' },
      ],
    },
    pre_tokenizer: { type: 'Split', pattern: { Regex: '\\A▁(?=:)' }, behavior: 'Isolated', invert: false },
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
    model: {
      type: 'Unigram',
      unk_id: 0,
      byte_fallback: false,
      vocab: vocab.map(([piece, score], id) => [id > 0 && id < RESERVED_IDS ? `${piece} (reserved)` : piece, score ?? 0]),
    },
  };
}
