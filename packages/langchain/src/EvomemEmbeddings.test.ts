import { readFile } from 'node:fs/promises';
import { Encoder, EvomemError } from '@evomem/core';
import { MemoryVectorStore } from '@langchain/classic/vectorstores/memory';
import { Document } from '@langchain/core/documents';
import { describe, expect, it, vi } from 'vitest';
import { EvomemEmbeddings } from './EvomemEmbeddings.js';

const sample = JSON.parse(await readFile(new URL('../../../data/sample-conversation.json', import.meta.url), 'utf8'))[0];
const turns = Object.entries(sample.conversation as Record<string, unknown>)
  .filter(([k]) => /^session_\d+$/.test(k))
  .flatMap(([, s]) => s as { speaker: string; dia_id: string; text: string }[]);

describe('EvomemEmbeddings with LangChain', () => {
  it('loads the offline default model and reports its dimension', async () => {
    const embeddings = await EvomemEmbeddings.create();
    expect(embeddings.embeddingDimension).toBe(512);
    expect(await embeddings.embedQuery('hello')).toHaveLength(512);
  });

  it('retrieves the evidence turn through MemoryVectorStore and a retriever', async () => {
    const docs = turns.map((t) => new Document({ pageContent: `${t.speaker}: ${t.text}`, metadata: { dia_id: t.dia_id } }));
    const store = await MemoryVectorStore.fromDocuments(docs, new EvomemEmbeddings());
    const hits = await store.asRetriever({ k: 3 }).invoke('What kind of dog did Theo adopt?');
    expect(hits).toHaveLength(3);
    expect(hits.map((d) => d.metadata.dia_id)).toContain('D1:12');
  });

  it('surfaces a model error at once, without LangChain retries', async () => {
    const encoder = await Encoder.load({ overflow: 'error', maxLength: 16, device: 'cpu' });
    const spy = vi.spyOn(encoder, 'embedDocuments');
    const embeddings = new EvomemEmbeddings({ encoderInstance: encoder });
    const error = await embeddings.embedDocuments(['short', 'word '.repeat(40)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvomemError);
    expect((error as EvomemError).message).toBe(
      `texts[1] is ${encoder.countTokens('word '.repeat(40))} tokens; the model takes at most 16. Shorten it, or pass overflow: 'truncate' or 'chunk'.`,
    );
    expect(spy).toHaveBeenCalledTimes(1);
  });

  it('retries when asked to', async () => {
    const encoder = await Encoder.load({ overflow: 'error', maxLength: 16, device: 'cpu' });
    const spy = vi.spyOn(encoder, 'embedQuery');
    const embeddings = new EvomemEmbeddings({ encoderInstance: encoder, maxRetries: 1, onFailedAttempt: () => {} });
    await expect(embeddings.embedQuery('word '.repeat(40))).rejects.toThrow(/tokens; the model takes at most 16/);
    expect(spy).toHaveBeenCalledTimes(2);
  });
});
