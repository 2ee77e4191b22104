import { EvomemEmbeddings } from '@evomem/langchain';
import { EvomemEmbedding } from '@evomem/llamaindex';
import { EvomemMem0Embedder } from '@evomem/mem0';
import { adapterContract } from './adapterContract.js';

adapterContract('@evomem/langchain EvomemEmbeddings', (encoder) => {
  const embeddings = new EvomemEmbeddings({ encoderInstance: encoder });
  return {
    embedDocuments: (t) => embeddings.embedDocuments(t),
    embedQuery: (t) => embeddings.embedQuery(t),
    dimension: () => embeddings.embeddingDimension,
  };
});

adapterContract('@evomem/llamaindex EvomemEmbedding', (encoder) => {
  const embedding = new EvomemEmbedding({ encoderInstance: encoder });
  return {
    embedDocuments: (t) => embedding.getTextEmbeddingsBatch(t),
    embedQuery: async (t) => (await embedding.getQueryEmbedding({ type: 'text', text: t }))!,
  };
});

// Mem0 stores memories with memoryAction 'add' and searches with 'search'.
adapterContract('@evomem/mem0 EvomemMem0Embedder', (encoder) => {
  const embedder = new EvomemMem0Embedder(encoder);
  return {
    embedDocuments: (t) => embedder.embedBatch(t, 'add'),
    embedQuery: (t) => embedder.embed(t, 'search'),
    dimension: () => embedder.embeddingDims,
  };
});
