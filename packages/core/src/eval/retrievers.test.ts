import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tinyModel } from '../encoder/fixtures.js';
import { evaluate } from './evaluate.js';
import { rankByScore } from './fusion.js';
import { readDataset } from './readDataset.js';
import { createRetriever, listRetrievers, registerRetriever } from './retrievers.js';
import type { EvalDataset } from './types.js';

const SAMPLE = fileURLToPath(new URL('../../../../data/sample-conversation.json', import.meta.url));
let dataset: EvalDataset;
let model: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  dataset = await readDataset(SAMPLE);
  model = await tinyModel();
});
afterAll(() => model.cleanup());

describe('retriever registry and evaluate', () => {
  it('lists the built-in retrievers and rejects an unknown name, listing the known ones', async () => {
    expect(listRetrievers().map((r) => r.name)).toEqual(expect.arrayContaining(['bm25', 'dense', 'hybrid', 'hybrid-rrf']));
    await expect(createRetriever('bm52')).rejects.toThrow(/Unknown retriever "bm52"; registered: bm25, dense, hybrid, hybrid-rrf/);
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

  it('runs dense and both hybrids with an encoder', async () => {
    for (const name of ['dense', 'hybrid', 'hybrid-rrf']) {
      const r = await createRetriever(name, { encoder: { model: model.dir, device: 'cpu' } });
      const report = await evaluate(dataset, r);
      expect(report.model).toBe(model.dir);
      expect(report.questions).toBe(8);
      for (const v of Object.values(report.metrics)) expect(v).toBeGreaterThanOrEqual(0);
      await r.dispose();
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
