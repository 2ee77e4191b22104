export { Bm25Index, bm25Tokens, ENGLISH_STOPWORDS, LUCENE_STOPWORDS, type Bm25Options } from './Bm25Index.js';
export { rankByScore, reciprocalRankFusion, zScoreFusion, standardize } from './fusion.js';
export { SearchIndex, openSearchIndex, segmentMeta, type SearchIndexOptions, type OpenSearchIndexOptions, type SearchMode, type SearchHit } from './SearchIndex.js';
export {
  RetrievalPipeline,
  fuseSignals,
  checkFusionWeights,
  SIGNALS,
  PART_SIGNALS,
  type SignalName,
  type SignalColumns,
  type FusionWeights,
  type PipelineParts,
  type PipelineUnit,
} from './pipeline.js';
export { DEFAULT_FUSION } from './defaultFusion.js';
export { trainFusion, type FusionExample, type TrainFusionOptions, type FusionTrainingReport } from './trainFusion.js';
export { neighbourLinks, fromNeighbour, type NeighbourLinks } from './signals/neighbourhood.js';
export { SessionPrior } from './signals/sessionPrior.js';
export { namedSpeakers, speakerMatch, speakersOf } from './signals/speakers.js';
export { asksWhen, statesTime, queryPeriods, dateMatch, type Period } from './signals/timeCues.js';
