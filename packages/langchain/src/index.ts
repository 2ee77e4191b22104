export { EvomemEmbeddings, type EvomemEmbeddingsParams } from './EvomemEmbeddings.js';
