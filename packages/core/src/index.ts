export { EvomemError, type EvomemErrorCode } from './errors.js';
export {
  Encoder,
  DEFAULT_MODEL_PACKAGE,
  type EncoderOptions,
  type EmbedOptions,
  type EmbeddingMatrix,
  type EncoderStats,
  type BatchTrace,
} from './encoder/Encoder.js';
export { readModelFolder, ONNX_FILE_BY_DTYPE, type ModelFolder, type ModelDtype, type PoolingMode } from './encoder/modelFolder.js';
export { resolveHubModel, hubCacheFolder, isHubId, type HubOptions, type DownloadProgress } from './encoder/hub.js';
export { TextTokenizer, type OverflowPolicy, type TokenRow } from './encoder/TextTokenizer.js';
export type { Device } from './encoder/session.js';
export type { PreparedGraph, GraphTransform } from './encoder/graph/derivedGraph.js';
export type { QuantizeOptions, QuantizeReport } from './encoder/graph/quantize.js';
export { poolTokens, normalizeInPlace } from './encoder/pooling.js';
export * from './eval/index.js';
export * from './retrieval/index.js';
export * from './memory/index.js';
export * from './stores/index.js';
export {
  HierarchicalNegativeSampler,
  toTrainingJsonl,
  samplerInputFromDataset,
  type Tier,
  type SamplerMessage,
  type SamplerQuery,
  type NegativeGroup,
  type SamplerOptions,
  type SamplerReport,
} from './sampler/HierarchicalNegativeSampler.js';
export { QueryAdapter, ADAPTER_FILE, type AdapterFusion, type AdapterModel, type QueryProjection, type QueryAdapterInit } from './adapter/QueryAdapter.js';
export { trainAdapter, type AdapterTrainingData, type TrainAdapterOptions, type TrainingProgress, type TrainingReport } from './adapter/trainAdapter.js';
