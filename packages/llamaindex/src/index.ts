export { EvomemEmbedding, type EvomemEmbeddingOptions } from './EvomemEmbedding.js';
export { EvomemRetriever, type EvomemRetrieverOptions, type VectorStoreIndexLike } from './EvomemRetriever.js';
export { EvolvingVectorStore, type EvolvingVectorStoreOptions } from './EvolvingVectorStore.js';
