import { readFile } from 'node:fs/promises';
import { Encoder, EvomemError } from '@evomem/core';
import { MemoryVectorStore } from '@langchain/classic/vectorstores/memory';
import { Document } from '@langchain/core/documents';
import { describe, expect, it, vi } from 'vitest';
import { EvomemEmbeddings } from './EvomemEmbeddings.js';
import { EvomemRetriever } from './EvomemRetriever.js';

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

describe('EvomemRetriever', () => {
  const docs = () => turns.map((t) => new Document({ pageContent: `${t.speaker}: ${t.text}`, id: t.dia_id, metadata: { dia_id: t.dia_id, speaker: t.speaker, session: t.dia_id.split(':')[0] } }));

  it('retrieves documents with their scores from its own hybrid index', async () => {
    const retriever = await EvomemRetriever.fromDocuments(docs(), { k: 3 });
    const hits = await retriever.invoke('What glaze did Maya use on her first bowl?');
    expect(hits.map((d) => d.metadata.dia_id)).toContain('D2:3');
    expect(hits[0]!.metadata.score).toBeGreaterThanOrEqual(hits[1]!.metadata.score);
  });

  it('has an evolving backend that conditions each turn on the turns before it', async () => {
    const encoder = await Encoder.load({ device: 'cpu' });
    const evolving = await EvomemRetriever.fromDocuments(docs(), { k: 28, backend: 'evolving', mode: 'dense', encoderInstance: encoder });
    const plain = await EvomemRetriever.fromDocuments(docs(), { k: 28, mode: 'dense', encoderInstance: encoder });
    const question = "What job did Maya's sister get in Denver?";
    const rank = (hits: Document[]) => hits.findIndex((d) => d.metadata.dia_id === 'D1:9');
    const [e, p] = [await evolving.invoke(question), await plain.invoke(question)];
    // "She got the pediatric nurse position." names neither Maya's sister nor Denver; the
    // turns before it do. The static embedding misses that; the evolving one carries it.
    expect(rank(e)).toBeLessThan(rank(p));
  });
});
