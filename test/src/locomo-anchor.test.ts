import { join } from 'node:path';
import { createRetriever, evaluate, readDataset } from '@evomem/core';
import { describe, expect, it } from 'vitest';
import { sharedDir, skipReason } from './shared.js';

// The external anchors in ../shared/README.md. LoCoMo: a plain BM25 over turns
// ("speaker: text"), categories 1-4, scores recall@5 0.50 and recall@10 0.57 over all 10
// conversations; the dev file holds 2 of them, so readers, tokenization and metrics together
// must land within 3 points. FriendsQA dev: BM25 recall@10 0.522, recall_any@10 0.557.
const skip = skipReason('LoCoMo BM25 anchor');

describe.skipIf(skip)('BM25 on LoCoMo dev reproduces the anchor', () => {
  it('lands within 3 points at recall@5 and recall@10', async () => {
    const dataset = await readDataset(join(sharedDir, 'data/locomo/locomo-dev.json'));
    const report = await evaluate(dataset, await createRetriever('bm25'));
    expect(report.questions).toBeGreaterThanOrEqual(229);
    expect(report.questions).toBeLessThanOrEqual(233);
    expect(Math.abs(report.metrics['recall@5']! - 0.5)).toBeLessThan(0.03);
    expect(Math.abs(report.metrics['recall@10']! - 0.57)).toBeLessThan(0.03);
  });
});

describe.skipIf(skip)('BM25 on FriendsQA dev reproduces the anchor', () => {
  it('gives recall@10 0.522 and recall_any@10 0.557 over its 1,182 questions', async () => {
    const dataset = await readDataset(join(sharedDir, 'data/friendsqa/friendsqa-dev.json'));
    const report = await evaluate(dataset, await createRetriever('bm25'));
    expect(report.questions).toBe(1182);
    expect(report.metrics['recall@10']).toBeCloseTo(0.522, 3);
    expect(report.metrics['recall_any@10']).toBeCloseTo(0.557, 3);
  });
});
