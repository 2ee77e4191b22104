export type { EvalCorpus, EvalDataset, EvalQuestion, EvalUnit, UnitKind } from './types.js';
export { readLocomo, normalizeDiaId, type LocomoOptions } from './locomo.js';
export { readLongMemEval, type LongMemEvalOptions } from './longmemeval.js';
export { readMemoryLog, appendMemoryLog, type MemoryLogRecord } from './memoryLog.js';
export { parseDialogueDate } from './dates.js';
export { scoreRanking, meanMetrics, DEFAULT_KS, type MetricValues } from './metrics.js';
export {
  registerRetriever,
  createRetriever,
  listRetrievers,
  type Retriever,
  type RetrieverFactory,
  type RetrieverOptions,
  type CorpusIndex,
} from './retrievers.js';
export { evaluate, type EvalReport, type EvaluateOptions } from './evaluate.js';
export { readDataset, type ReadDatasetOptions } from './readDataset.js';
export { fusionExamples, addCorpus, unitMeta, type CorpusExamples } from './fusionExamples.js';
