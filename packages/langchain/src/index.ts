export { EvomemEmbeddings, type EvomemEmbeddingsParams } from './EvomemEmbeddings.js';
export { EvomemRetriever, type EvomemRetrieverInput } from './EvomemRetriever.js';
export {
  EvolvingVectorStore,
  DEFAULT_STREAM,
  type EvolvingVectorStoreOptions,
  type EvolvingVectorStoreInput,
  type EvolvingAddOptions,
  type StreamKey,
} from './EvolvingVectorStore.js';
