import { beforeAll, describe, expect, it } from 'vitest';
import type { Encoder } from '../encoder/Encoder.js';
import { tinyEncoderForSuite } from '../encoder/fixtures.js';
import { Bm25Index } from '../eval/Bm25Index.js';
import { zScoreFusion } from '../eval/fusion.js';
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

  it('fuses bm25 and dense by z-scores in hybrid mode, and keeps up with later adds', async () => {
    const index = new SearchIndex({ encoder });
    await index.add(texts.slice(0, 2));
    await index.add(texts.slice(2));
    expect(index.size).toBe(4);
    const dense = new SearchIndex({ encoder, mode: 'dense' });
    await dense.add(texts);
    const expected = zScoreFusion([new Bm25Index(texts).scores('memory agent'), await dense.scores('memory agent')]);
    const got = await index.scores('memory agent');
    Array.from(expected).forEach((v, i) => expect(got[i]).toBeCloseTo(v, 5));
    const hits = await index.search('memory agent', 2);
    expect(hits).toHaveLength(2);
    expect(hits[0]!.score).toBeGreaterThanOrEqual(hits[1]!.score);
  });

  it('needs no encoder for bm25 and demands one for the other modes', async () => {
    const index = new SearchIndex({ mode: 'bm25' });
    await index.add(texts);
    expect((await index.search('remember', 1))[0]!.index).toBe(0);
    expect(() => new SearchIndex({ mode: 'hybrid' })).toThrow(/SearchIndex mode 'hybrid' embeds texts: pass an encoder/);
  });
});
