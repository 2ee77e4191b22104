// A small LangChain retrieval app over a conversation. The embedder line is the only
// change from the OpenAI version (kept in the comment), and it runs offline.
// Usage: pnpm start [--data locomo-format.json] [--k 3]
import { parseArgs } from 'node:util';
import { readDataset } from '@evomem/core';
import { EvomemEmbeddings } from '@evomem/langchain';
import { MemoryVectorStore } from '@langchain/classic/vectorstores/memory';
import { Document } from '@langchain/core/documents';

const { values } = parseArgs({
  options: { data: { type: 'string', default: new URL('../../data/sample-conversation.json', import.meta.url).pathname }, k: { type: 'string', default: '3' }, 'min-hits': { type: 'string', default: '0' } },
});

// const embeddings = new OpenAIEmbeddings({ model: 'text-embedding-3-small' });
const embeddings = new EvomemEmbeddings();

const { corpora } = await readDataset(values.data);
let hits = 0;
let asked = 0;
for (const { id, units, questions } of corpora) {
  const store = await MemoryVectorStore.fromDocuments(
    units.map((u) => new Document({ pageContent: u.text, metadata: { id: u.key } })),
    embeddings,
  );
  const retriever = store.asRetriever({ k: Number(values.k) });
  console.log(`# ${id}: ${units.length} turns stored`);
  for (const q of questions.slice(0, 5)) {
    const docs = await retriever.invoke(q.text);
    const found = docs.some((d) => q.evidence.includes(d.metadata.id));
    hits += found ? 1 : 0;
    asked++;
    console.log(`\nQ: ${q.text}  (gold ${q.evidence.join(', ')}: ${found ? 'found' : 'missed'})`);
    for (const d of docs) console.log(`  ${q.evidence.includes(d.metadata.id) ? '✓' : ' '} ${d.metadata.id.padEnd(6)} ${d.pageContent}`);
  }
}
console.log(`\ngold turn in the top ${values.k}: ${hits}/${asked} questions`);
if (hits < Number(values['min-hits'])) process.exit(1);
