import type { SearchIndex } from '../retrieval/SearchIndex.js';
import type { FusionExample } from '../retrieval/trainFusion.js';
import type { EvalCorpus, EvalDataset, EvalUnit } from './types.js';

/** A corpus's questions as fusion training examples. */
export interface CorpusExamples {
  corpus: string;
  examples: FusionExample[];
}

/**
 * Training examples for `trainFusion` from a dataset: each corpus is added in order to a
 * fresh index from `open` (with each unit's speaker, session and date), and each question
 * with evidence becomes its signal columns and the positions of its evidence units.
 */
export async function fusionExamples(dataset: EvalDataset, open: (corpus: EvalCorpus) => SearchIndex | Promise<SearchIndex>): Promise<CorpusExamples[]> {
  const out: CorpusExamples[] = [];
  for (const corpus of dataset.corpora) {
    if (corpus.questions.length === 0) continue;
    const index = await open(corpus);
    await addCorpus(index, corpus);
    const position = new Map(corpus.units.map((u, i) => [u.key, i]));
    const examples: FusionExample[] = [];
    for (const q of corpus.questions) {
      const gold = q.evidence.map((k) => position.get(k)).filter((i): i is number => i !== undefined);
      if (gold.length) examples.push({ id: q.id, columns: await index.signals(q.text), gold });
    }
    out.push({ corpus: corpus.id, examples });
  }
  return out;
}

/** Adds a corpus's units to an index in order, with each unit's speaker, session and date. */
export async function addCorpus(index: SearchIndex, corpus: EvalCorpus): Promise<void> {
  await index.add(
    corpus.units.map((u) => u.text),
    corpus.units.map((u, i) => ({ id: `${i}:${u.key}`, ...unitMeta(u) })),
  );
}

/** What an index and the pipeline know of a unit besides its text: speaker, session and date (as `timestamp`). */
export function unitMeta(u: EvalUnit): { speaker?: string; session?: string; timestamp?: string } {
  return { ...(u.speaker ? { speaker: u.speaker } : {}), ...(u.session ? { session: u.session } : {}), ...(u.dateTime ? { timestamp: u.dateTime } : {}) };
}
