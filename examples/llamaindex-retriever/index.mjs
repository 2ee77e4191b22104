// A LlamaIndex index over a conversation with evomem as the embedding model, next to
// evomem's own retriever (BM25 + dense fused), offline.
// Usage: pnpm start [--data locomo-format.json] [--k 3]
import { parseArgs } from 'node:util';
import { readDataset } from '@evomem/core';
import { EvomemEmbedding, EvomemRetriever } from '@evomem/llamaindex';
import { Document, Settings, VectorStoreIndex } from 'llamaindex';

const { values } = parseArgs({
  options: { data: { type: 'string', default: new URL('../../data/sample-conversation.json', import.meta.url).pathname }, k: { type: 'string', default: '3' }, 'min-hits': { type: 'string', default: '0' } },
});
const k = Number(values.k);
Settings.embedModel = new EvomemEmbedding();

const { corpora } = await readDataset(values.data);
const score = { vector: 0, evomem: 0, asked: 0 };
for (const { id, units, questions } of corpora) {
  const documents = units.map((u) => new Document({ text: u.text, id_: `${id}/${u.key}`, metadata: { id: u.key } }));
  const vectorRetriever = (await VectorStoreIndex.fromDocuments(documents)).asRetriever({ similarityTopK: k });
  const evomemRetriever = await EvomemRetriever.fromNodes(documents, { similarityTopK: k });
  console.log(`# ${id}: ${units.length} turns indexed`);
  for (const q of questions.slice(0, 5)) {
    score.asked++;
    console.log(`\nQ: ${q.text}  (gold ${q.evidence.join(', ')})`);
    for (const [name, retriever] of [['vector', vectorRetriever], ['evomem', evomemRetriever]]) {
      const nodes = await retriever.retrieve(q.text);
      const found = nodes.some((n) => q.evidence.includes(n.node.metadata.id));
      score[name] += found ? 1 : 0;
      console.log(`  ${name.padEnd(6)} ${found ? 'found' : 'missed'}: ${nodes.map((n) => `${q.evidence.includes(n.node.metadata.id) ? '✓' : ''}${n.node.metadata.id}`).join(' ')}`);
    }
  }
}
console.log(`\ngold turn in the top ${k}: VectorStoreIndex ${score.vector}/${score.asked}, EvomemRetriever ${score.evomem}/${score.asked}`);
if (Math.max(score.vector, score.evomem) < Number(values['min-hits'])) process.exit(1);
