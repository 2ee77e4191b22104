import { describe, expect, it } from 'vitest';
import { Bm25Index, bm25Tokens, LUCENE_STOPWORDS } from './Bm25Index.js';

describe('Bm25Index', () => {
  it('scores by Okapi BM25 with Lucene idf (hand-computed)', () => {
    const index = new Bm25Index(['cat sat', 'dog sat sat', 'bird'], { stopwords: new Set() });
    const s = index.scores('sat');
    // idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)); avgdl = 2.
    const idf = Math.log(1.6);
    expect(s[0]).toBeCloseTo((idf * 1 * 2.2) / (1 + 1.2 * (0.25 + 0.75 * (2 / 2))), 12);
    expect(s[1]).toBeCloseTo((idf * 2 * 2.2) / (2 + 1.2 * (0.25 + 0.75 * (3 / 2))), 12);
    expect(s[2]).toBe(0);
  });

  it('ignores stopwords and case, and counts repeated query words', () => {
    const index = new Bm25Index(['The Pottery class', 'the garden']);
    expect(Array.from(index.scores('the'))).toEqual([0, 0]);
    const once = index.scores('pottery')[0]!;
    expect(index.scores('POTTERY pottery')[0]).toBeCloseTo(2 * once, 12);
  });

  it('tokenizes into lower-case letters and digits without stopwords', () => {
    expect(bm25Tokens("What did Maya's sister get in 2023?")).toEqual(['maya', 'sister', 'get', '2023']);
    expect(bm25Tokens('What did she say', LUCENE_STOPWORDS)).toEqual(['what', 'did', 'she', 'say']);
  });

  it('handles an empty corpus and an empty query', () => {
    expect(new Bm25Index([]).scores('x')).toHaveLength(0);
    expect(Array.from(new Bm25Index(['a b']).scores(''))).toEqual([0]);
  });
});
