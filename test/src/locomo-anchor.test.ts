import { join } from 'node:path';
import { createRetriever, evaluate, readDataset } from '@evomem/core';
import { describe, expect, it } from 'vitest';
import { sharedDir, skipReason } from './shared.js';

// The project's external anchor for a plain BM25 over LoCoMo dev turns, categories 1-4:
// recall@5 0.521, recall@10 0.570 over 230 questions. Readers, tokenization and metrics
// together must land within a few points of it.
const skip = skipReason('LoCoMo BM25 anchor');

describe.skipIf(skip)('BM25 on LoCoMo dev reproduces the anchor', () => {
  it('lands within 3 points at recall@5 and recall@10', async () => {
    const dataset = await readDataset(join(sharedDir, 'data/locomo/locomo-dev.json'));
    const report = await evaluate(dataset, await createRetriever('bm25'));
    expect(report.questions).toBeGreaterThanOrEqual(229);
    expect(report.questions).toBeLessThanOrEqual(233);
    expect(Math.abs(report.metrics['recall@5']! - 0.521)).toBeLessThan(0.03);
    expect(Math.abs(report.metrics['recall@10']! - 0.57)).toBeLessThan(0.03);
  });
});
