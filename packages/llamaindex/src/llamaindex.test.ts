import { readFile } from 'node:fs/promises';
import { Encoder } from '@evomem/core';
import { Document, Settings, VectorStoreIndex } from 'llamaindex';
import { describe, expect, it, vi } from 'vitest';
import { EvomemEmbedding } from './EvomemEmbedding.js';
import { EvomemRetriever } from './EvomemRetriever.js';

const sample = JSON.parse(await readFile(new URL('../../../data/sample-conversation.json', import.meta.url), 'utf8'))[0];
const turns = Object.entries(sample.conversation as Record<string, unknown>)
  .filter(([k]) => /^session_\d+$/.test(k))
  .flatMap(([, s]) => s as { speaker: string; dia_id: string; text: string }[]);
const documents = () => turns.map((t) => new Document({ text: `${t.speaker}: ${t.text}`, id_: t.dia_id, metadata: { dia_id: t.dia_id } }));

describe('EvomemEmbedding with LlamaIndex', () => {
  it('serves as Settings.embedModel for VectorStoreIndex and its retriever', async () => {
    Settings.embedModel = new EvomemEmbedding();
    const index = await VectorStoreIndex.fromDocuments(documents());
    const hits = await index.asRetriever({ similarityTopK: 3 }).retrieve('What kind of dog did Theo adopt?');
    expect(hits).toHaveLength(3);
    expect(hits.map((h) => h.node.metadata.dia_id)).toContain('D1:12');
  });

  it('embeds in real batches of embedBatchSize with the document prompt', async () => {
    const encoder = await Encoder.load({ device: 'cpu' });
    // LlamaIndex reuses its batch array, so sizes are recorded at call time.
    const sizes: number[] = [];
    const embedDocuments = encoder.embedDocuments.bind(encoder);
    vi.spyOn(encoder, 'embedDocuments').mockImplementation((texts, options) => {
      sizes.push(texts.length);
      return embedDocuments(texts, options);
    });
    const embedding = new EvomemEmbedding({ encoderInstance: encoder, embedBatchSize: 4 });
    const texts = turns.slice(0, 10).map((t) => t.text);
    const vectors = await embedding.getTextEmbeddingsBatch(texts);
    expect(vectors).toHaveLength(10);
    expect(sizes).toEqual([4, 4, 2]);
    const expected = await embedDocuments(texts);
    vectors.forEach((v, i) => v.forEach((x, d) => expect(x).toBeCloseTo(expected[i]![d]!, 5)));
  });

  it('uses the query prompt for queries', async () => {
    const encoder = await Encoder.load({ device: 'cpu' });
    const embedding = new EvomemEmbedding({ encoderInstance: encoder });
    expect(await embedding.getQueryEmbedding({ type: 'text', text: 'dog' })).toEqual(Array.from(await encoder.embedQuery('dog')));
  });
});

describe('EvomemRetriever', () => {
  it('retrieves NodeWithScore[] from its own hybrid index', async () => {
    const retriever = await EvomemRetriever.fromNodes(documents(), { similarityTopK: 3 });
    const hits = await retriever.retrieve({ query: 'What glaze did Maya use on her first bowl?' });
    expect(hits).toHaveLength(3);
    expect(hits.map((h) => h.node.metadata.dia_id)).toContain('D2:3');
    expect(hits[0]!.score!).toBeGreaterThanOrEqual(hits[1]!.score!);
  });

  it('honours the mode and accepts more nodes later', async () => {
    const retriever = new EvomemRetriever({ mode: 'bm25', similarityTopK: 1 });
    await retriever.add(documents().slice(0, 14));
    await retriever.add(documents().slice(14));
    const [hit] = await retriever.retrieve('celadon glaze kiln');
    expect(hit!.node.metadata.dia_id).toBe('D2:3');
  });
});

describe('EvomemRetriever evolving backend', () => {
  it('conditions each node on the nodes before it, lifting a turn that only makes sense in context', async () => {
    const encoder = await Encoder.load({ device: 'cpu' });
    const nodes = () => turns.map((t) => new Document({ text: `${t.speaker}: ${t.text}`, id_: t.dia_id, metadata: { dia_id: t.dia_id, speaker: t.speaker, session: t.dia_id.split(':')[0] } }));
    const evolving = await EvomemRetriever.fromNodes(nodes(), { backend: 'evolving', mode: 'dense', similarityTopK: 28, encoderInstance: encoder });
    const plain = await EvomemRetriever.fromNodes(nodes(), { mode: 'dense', similarityTopK: 28, encoderInstance: encoder });
    const question = "What job did Maya's sister get in Denver?";
    const rank = async (r: EvomemRetriever) => (await r.retrieve(question)).findIndex((h) => h.node.metadata.dia_id === 'D1:9');
    expect(await rank(evolving)).toBeLessThan(await rank(plain));
  });
});
