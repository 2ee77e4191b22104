export { EvomemEmbeddings, type EvomemEmbeddingsParams } from './EvomemEmbeddings.js';
export { EvomemRetriever, type EvomemRetrieverInput } from './EvomemRetriever.js';
