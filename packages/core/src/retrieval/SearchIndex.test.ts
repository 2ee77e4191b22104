import { beforeAll, describe, expect, it } from 'vitest';
import type { Encoder } from '../encoder/Encoder.js';
import { tinyEncoderForSuite } from '../encoder/fixtures.js';
import { SearchIndex } from './SearchIndex.js';

const tiny = tinyEncoderForSuite();
let encoder: Encoder;
const texts = ['the agent will remember', 'what did she say about memory', 'last week', 'memory agent'];

beforeAll(() => {
  encoder = tiny();
});

describe('SearchIndex', () => {
  it('scores dense by cosine of document and query embeddings', async () => {
    const index = new SearchIndex({ encoder, mode: 'dense' });
    expect(await index.add(texts)).toEqual([0, 1, 2, 3]);
    const scores = await index.scores('memory');
    const q = await encoder.embedQuery('memory');
    const docs = await encoder.embedDocuments(texts);
    docs.forEach((d, i) => expect(scores[i]).toBeCloseTo(d.reduce((s, v, j) => s + v * q[j]!, 0), 5));
  });

  // BM25 by hand (k1 1.2, b 0.75, NLTK stopwords): the documents' words are [agent, remember],
  // [say, memory], [last, week], [memory, agent], 2 each (the average). "memory" and "agent"
  // are each in 2 of 4 documents: idf ln(1 + 2.5 / 2.5) = ln 2; tf 1 at average length gives
  // ln 2 * 2.2 / (1 + 1.2) = ln 2. So 'memory agent' scores [ln 2, ln 2, 0, 2 ln 2].
  const bm25ByHand = [Math.LN2, Math.LN2, 0, 2 * Math.LN2];
  // Their z-scores: mean ln 2, population std ln 2 / sqrt 2.
  const bm25Z = [0, 0, -Math.SQRT2, Math.SQRT2];
  const zScores = (v: ArrayLike<number>) => {
    const x = Array.from(v);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
    return x.map((y) => (y - mean) / std);
  };
  const denseByHand = async (query: string) => {
    const q = await encoder.embedQuery(query);
    return (await encoder.embedDocuments(texts)).map((d) => d.reduce((s, v, j) => s + v * q[j]!, 0));
  };

  it('scores bm25 as computed by hand', async () => {
    const index = new SearchIndex({ mode: 'bm25' });
    await index.add(texts);
    const got = await index.scores('memory agent');
    bm25ByHand.forEach((v, i) => expect(got[i]).toBeCloseTo(v, 12));
  });

  it('fuses bm25 and dense by z-scores in hybrid mode, and keeps up with later adds', async () => {
    const index = new SearchIndex({ encoder, mode: 'hybrid' });
    await index.add(texts.slice(0, 2));
    // The BM25 statistics of the first two texts alone must not survive the next add.
    expect((await index.scores('memory agent')).length).toBe(2);
    await index.add(texts.slice(2));
    expect(index.size).toBe(4);
    const dense = zScores(await denseByHand('memory agent'));
    const got = await index.scores('memory agent');
    expect(got).toHaveLength(4);
    dense.forEach((z, i) => expect(got[i]).toBeCloseTo(bm25Z[i]! + z, 5));
    const hits = await index.search('memory agent', 2);
    expect(hits.map((h) => h.index)).toEqual(Array.from(got, (score, i) => ({ score, i })).sort((a, b) => b.score - a.score).slice(0, 2).map((h) => h.i));
    expect(hits[0]!.score).toBeGreaterThanOrEqual(hits[1]!.score);
    // Weights scale each list's z-scores: [1, 0] is BM25's order alone, [0, 1] dense's.
    const weighted = async (weights: [number, number]) => {
      const w = new SearchIndex({ encoder, mode: 'hybrid', weights });
      await w.add(texts);
      return w.scores('memory agent');
    };
    const bm25Only = await weighted([1, 0]);
    bm25Z.forEach((z, i) => expect(bm25Only[i]).toBeCloseTo(z, 9));
    const denseOnly = await weighted([0, 2]);
    dense.forEach((z, i) => expect(denseOnly[i]).toBeCloseTo(2 * z, 5));
  });

  it('fuses by reciprocal rank in rrf mode (k 60)', async () => {
    const index = new SearchIndex({ encoder, mode: 'hybrid', fusion: 'rrf' });
    await index.add(texts);
    // BM25 ranks 3, then 0 and 1 (tied, index order), then 2; dense ranks by the cosines.
    const bm25Rank = [2, 3, 4, 1];
    const dense = await denseByHand('memory agent');
    const denseRank = dense.map((v, i) => 1 + dense.filter((w, j) => w > v || (w === v && j < i)).length);
    const got = await index.scores('memory agent');
    texts.forEach((_, i) => expect(got[i]).toBeCloseTo(1 / (60 + bm25Rank[i]!) + 1 / (60 + denseRank[i]!), 6));
  });

  it('needs no encoder for bm25 and demands one for the other modes', async () => {
    const index = new SearchIndex({ mode: 'bm25' });
    await index.add(texts);
    expect((await index.search('remember', 1))[0]!.index).toBe(0);
    expect(() => new SearchIndex({ mode: 'hybrid' })).toThrow(/SearchIndex mode 'hybrid' embeds texts: pass an encoder/);
  });
});
