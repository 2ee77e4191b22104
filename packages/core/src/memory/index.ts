export { MemoryQueue, type LatentMeta, type MemoryQueueOptions } from './MemoryQueue.js';
export { EvolvingEncoder, type EvolvingOptions, type ContextOptions, type SegmentEncoder, type AdvanceResult } from './EvolvingEncoder.js';
export { EvolvingMemory, type EvolvingMemoryOptions, type IngestOptions, type IngestResult } from './EvolvingMemory.js';
export { MemoryStream } from './MemoryStream.js';
export { StreamState, type StoredSlot } from './StreamState.js';
export { checkSegments, type Segment } from './segments.js';
export {
  defaultEvolvingWeights,
  loadEvolvingWeights,
  saveEvolvingWeights,
  checkEvolvingWeights,
  readOutTrace,
  mixReadOut,
  gateValue,
  type EvolvingWeights,
  type ReadOutTrace,
} from './readOut.js';
