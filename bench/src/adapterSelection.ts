// Choosing the adapter's defaults without the held-out conversation: half of the training
// conversations' QA questions (by a hash of their id) are set aside, an adapter of each grid
// config is trained on the rest (and every observation fact), and the config with the best
// recall@10 on the set-aside questions, over the training conversations' turns, is chosen.
import type { EvalDataset, EvalReport, QueryAdapter } from '@evomem/core';

export interface GridConfig {
  projection?: 'low-rank' | 'linear';
  queueSize?: number;
}

/** The defaults in question; the shipped default first, so a tie keeps it. */
export const GRID: GridConfig[] = [
  { projection: 'low-rank', queueSize: 1024 },
  { projection: 'low-rank', queueSize: 0 },
  { projection: 'linear', queueSize: 1024 },
  { projection: 'linear', queueSize: 0 },
];

export interface Selection {
  chosen: GridConfig;
  /** recall@10 of each grid config on the set-aside questions of the training conversations. */
  validation: { config: GridConfig; recallAt10: number }[];
  validationQuestions: number;
}

/** FNV-1a, for a split that depends only on the question id. */
function setAside(id: string): boolean {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193) >>> 0;
  return h % 2 === 0;
}

export async function selectOnTraining(
  grid: GridConfig[],
  train: (keepQuestion: (id: string) => boolean, config: GridConfig) => Promise<{ adapter: QueryAdapter }>,
  score: (dataset: EvalDataset, adapter: QueryAdapter) => Promise<EvalReport>,
  turns: EvalDataset,
  heldOut: string,
): Promise<Selection> {
  const validationSet: EvalDataset = {
    ...turns,
    corpora: turns.corpora.filter((c) => c.id !== heldOut).map((c) => ({ ...c, questions: c.questions.filter((q) => setAside(q.id)) })),
  };
  const validation: Selection['validation'] = [];
  let questions = 0;
  for (const config of grid) {
    const { adapter } = await train((id) => !setAside(id), config);
    const report = await score(validationSet, adapter);
    questions = report.questions;
    validation.push({ config, recallAt10: report.metrics['recall@10']! });
  }
  const chosen = validation.reduce((a, b) => (b.recallAt10 > a.recallAt10 ? b : a)).config;
  return { chosen, validation, validationQuestions: questions };
}
