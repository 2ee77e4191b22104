export { EvomemEmbedding, type EvomemEmbeddingOptions } from './EvomemEmbedding.js';
export { EvomemRetriever, type EvomemRetrieverOptions } from './EvomemRetriever.js';
