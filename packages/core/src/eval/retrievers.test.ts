import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { Bm25Index } from '../retrieval/Bm25Index.js';
import { evaluate } from './evaluate.js';
import { rankByScore } from '../retrieval/fusion.js';
import { readDataset } from './readDataset.js';
import { createRetriever, listRetrievers, registerRetriever } from './retrievers.js';
import type { EvalDataset } from './types.js';

const SAMPLE = fileURLToPath(new URL('../../../../data/sample-conversation.json', import.meta.url));
let dataset: EvalDataset;
let model: { dir: string; cleanup: () => Promise<void> };

// A corpus where the right answer of each question is known whatever the encoder's weights:
// 'pepper' is in one turn only; a question of stopwords alone gives BM25 nothing, and its
// text is one turn's own (cosine 1 with the same encoder); the last question is a turn's
// whole text, whose words no other turn has.
const tiny: EvalDataset = {
  source: 'tiny',
  format: 'locomo',
  unit: 'turn',
  skipped: {},
  corpora: [
    {
      id: 'c',
      units: [
        { key: 'D1:1', text: 'I signed up for the pottery class at the community center.' },
        { key: 'D1:2', text: 'I adopted a greyhound called Pepper last weekend.' },
        { key: 'D1:3', text: 'What did you do there, then?' },
        { key: 'D1:4', text: 'The tomatoes are finally turning red in the garden.' },
        { key: 'D1:5', text: 'Lena starts the pediatric nurse job in Denver on the fifteenth.' },
        { key: 'D2:1', text: 'We should all meet for dinner on Friday.' },
      ],
      questions: [
        { id: 'pepper', text: 'What kind of dog is Pepper?', evidence: ['D1:2'], category: '4' },
        { id: 'stopwords', text: 'What did you do there, then?', evidence: ['D1:3'], category: '4' },
        { id: 'own-text', text: 'Lena starts the pediatric nurse job in Denver on the fifteenth.', evidence: ['D1:5'], category: '4' },
      ],
    },
  ],
};

beforeAll(async () => {
  dataset = await readDataset(SAMPLE);
  model = await tinyModel();
});
afterAll(() => model.cleanup());

describe('retriever registry and evaluate', () => {
  it('lists the built-in retrievers and rejects an unknown name, listing the known ones', async () => {
    expect(listRetrievers().map((r) => r.name)).toEqual(expect.arrayContaining(['bm25', 'dense', 'hybrid', 'hybrid-rrf']));
    await expect(createRetriever('bm52')).rejects.toThrow(/Unknown retriever "bm52"; registered: pipeline, pipeline-evolving, bm25, dense, hybrid, hybrid-rrf/);
  });

  it('scores bm25 on the sample conversation, with per-category results, deterministically', async () => {
    const bm25 = await createRetriever('bm25');
    const report = await evaluate(dataset, bm25);
    expect(report).toMatchObject({ retriever: 'bm25', model: null, format: 'locomo', unit: 'turn', questions: 8, skipped: 0 });
    expect(Object.keys(report.metrics)).toEqual(expect.arrayContaining(['recall@1', 'recall@5', 'recall@10', 'recall@20', 'ndcg@10', 'mrr']));
    expect(report.by_category['4']!.questions + report.by_category['1']!.questions + report.by_category['2']!.questions).toBe(8);
    expect(await evaluate(dataset, bm25)).toEqual(report);
    // "What glaze did Maya use on her first bowl?": the turn holding "maya", "first" and
    // "bowl" (D2:1) outranks the gold turn, which has "glaze" only, but that still makes the top 5.
    const corpus = dataset.corpora[0]!;
    const glaze = corpus.questions.find((q) => q.text.includes('glaze'))!;
    const ranked = rankByScore(await (await bm25.index(corpus)).scores(glaze)).map((i) => corpus.units[i]!.key);
    expect(ranked[0]).toBe('D2:1');
    expect(ranked.slice(0, 5)).toContain('D2:3');
  });

  it('runs dense and both hybrids with an encoder on the sample conversation', async () => {
    for (const name of ['dense', 'hybrid', 'hybrid-rrf']) {
      const r = await createRetriever(name, { encoder: { model: model.dir, device: 'cpu' } });
      const report = await evaluate(dataset, r);
      expect(report.model).toBe(model.dir);
      expect(report.questions).toBe(8);
      await r.dispose();
    }
  });

  it('ranks where each signal must: a rare shared word (bm25), the same text (dense), both (all); hybrids fuse the two rankings', async () => {
    const encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
    try {
      const texts = tiny.corpora[0]!.units.map((u) => u.text);
      const docs = await encoder.embedDocuments(texts);
      // The two signals, each computed here on its own, and the two fusions by their definitions.
      const bm25Of = (q: string) => Array.from(new Bm25Index(texts).scores(q));
      const denseOf = async (q: string) => {
        const v = await encoder.embedQuery(q);
        return docs.map((d) => d.reduce((s, x, j) => s + x * v[j]!, 0));
      };
      const z = (x: number[]) => {
        const mean = x.reduce((a, b) => a + b, 0) / x.length;
        const std = Math.sqrt(x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length);
        return x.map((y) => (std === 0 ? 0 : (y - mean) / std));
      };
      // Rank from 1, ties in unit order.
      const ranks = (x: number[]) => x.map((v, i) => 1 + x.filter((w, j) => w > v || (w === v && j < i)).length);
      const reference: Record<string, (q: string) => Promise<number[]>> = {
        bm25: async (q) => bm25Of(q),
        dense: denseOf,
        hybrid: async (q) => {
          const [b, d] = [z(bm25Of(q)), z(await denseOf(q))];
          return b.map((v, i) => v + d[i]!);
        },
        'hybrid-rrf': async (q) => {
          const [b, d] = [ranks(bm25Of(q)), ranks(await denseOf(q))];
          return b.map((r, i) => 1 / (60 + r) + 1 / (60 + d[i]!));
        },
      };
      const corpus = tiny.corpora[0]!;
      const rankOfEvidence: Record<string, number[]> = {};
      for (const name of Object.keys(reference)) {
        const r = await createRetriever(name, { encoder: { model: model.dir, device: 'cpu' } });
        const index = await r.index(corpus);
        rankOfEvidence[name] = [];
        let mrr = 0;
        for (const q of corpus.questions) {
          const got = Array.from(await index.scores(q));
          const want = await reference[name]!(q.text);
          want.forEach((v, i) => expect(got[i], `${name}, ${q.id}, unit ${i}`).toBeCloseTo(v, 5));
          expect(rankByScore(got), `${name}, ${q.id}`).toEqual(rankByScore(want));
          const rank = ranks(got)[corpus.units.findIndex((u) => u.key === q.evidence[0])]!;
          rankOfEvidence[name]!.push(rank);
          mrr += 1 / ranks(want)[corpus.units.findIndex((u) => u.key === q.evidence[0])]! / corpus.questions.length;
        }
        expect((await evaluate(tiny, r)).metrics.mrr, name).toBeCloseTo(mrr, 12);
        await r.dispose();
      }
      // Questions: pepper (lexical), stopwords only (dense), a turn's own text (both).
      expect(rankOfEvidence.bm25![0]).toBe(1);
      expect(rankOfEvidence.dense![1]).toBe(1);
      // BM25 scores every unit 0 on a stopword-only question: its list adds nothing to the z-scores.
      expect(rankOfEvidence.hybrid![1]).toBe(1);
      // The top of both lists is the top of any fusion of them.
      for (const name of Object.keys(reference)) expect(rankOfEvidence[name]![2], name).toBe(1);
    } finally {
      await encoder.dispose();
    }
  });

  it('plugs in a registered retriever by name', async () => {
    // Ranks units in reverse order: the gold turn's rank is then known for each question.
    registerRetriever('reverse', 'test: last unit first', () => ({
      name: 'reverse',
      index: async (corpus) => ({ scores: async () => corpus.units.map((_, i) => i) }),
      dispose: async () => {},
    }));
    const report = await evaluate(dataset, await createRetriever('reverse'), { ks: [1] });
    const q = dataset.corpora[0]!.questions;
    const keys = dataset.corpora[0]!.units.map((u) => u.key).reverse();
    const expectedMrr = q.reduce((s, question) => s + 1 / (Math.min(...question.evidence.map((e) => keys.indexOf(e))) + 1), 0) / q.length;
    expect(report.metrics.mrr).toBeCloseTo(expectedMrr, 12);
    expect(Object.keys(report.metrics)).toEqual(['recall@1', 'recall_any@1', 'ndcg@1', 'mrr']);
  });
});
