import { join } from 'node:path';
import { createRetriever, evaluate, readDataset } from '@evomem/core';
import { sharedDir } from './shared.js';

/** The dev files the recall check runs on, read as `evomem eval` reads them (turn units, categories 1-4). */
export const DEV_FILES = {
  locomo: join(sharedDir, 'data/locomo/locomo-dev.json'),
  friendsqa: join(sharedDir, 'data/friendsqa/friendsqa-dev.json'),
} as const;

export type RecallAt10 = Record<keyof typeof DEV_FILES, { fp32: number; int8: number }>;

/**
 * recall@10 of the default retrieval pipeline (`createRetriever('pipeline')`, the default
 * model and its adapter, as `evomem eval` runs it) on both dev files, with the encoder at
 * fp32 and at int8: what quantization costs in retrieval quality. `corpora` keeps the first
 * conversations of each file only (a smoke run).
 */
export async function int8RecallAt10(threads: number, corpora = Infinity): Promise<RecallAt10> {
  const out: Partial<RecallAt10> = {};
  for (const [name, file] of Object.entries(DEV_FILES) as [keyof typeof DEV_FILES, string][]) {
    const read = await readDataset(file);
    const dataset = { ...read, corpora: read.corpora.slice(0, corpora) };
    const row = { fp32: NaN, int8: NaN };
    for (const dtype of ['fp32', 'int8'] as const) {
      const retriever = await createRetriever('pipeline', { encoder: { device: 'cpu', dtype, threads } });
      try {
        row[dtype] = Number((await evaluate(dataset, retriever, { ks: [10] })).metrics['recall@10']!.toFixed(4));
      } finally {
        await retriever.dispose();
      }
    }
    out[name] = row;
  }
  return out as RecallAt10;
}
