export { MemoryQueue, type LatentMeta, type MemoryQueueOptions } from './MemoryQueue.js';
export {
  EvolvingEncoder,
  MemoryStream,
  defaultEvolvingWeights,
  loadEvolvingWeights,
  saveEvolvingWeights,
  type Segment,
  type EvolvingOptions,
  type EvolvingWeights,
  type ContextOptions,
  type ReadOutTrace,
  readOutTrace,
  mixReadOut,
  gateValue,
} from './EvolvingEncoder.js';
