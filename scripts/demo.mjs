// The main job: store a conversation as memories, then answer questions by retrieval.
// Usage: pnpm demo [--model PATH|HUB_ID] [--data FILE] [--k N]
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Encoder, EvomemError, SearchIndex } from '@evomem/core';

const { values } = parseArgs({
  options: {
    model: { type: 'string' },
    data: { type: 'string', default: fileURLToPath(new URL('../data/sample-conversation.json', import.meta.url)) },
    k: { type: 'string', default: '3' },
  },
});
const k = Number(values.k);

try {
  const [sample] = JSON.parse(await readFile(values.data, 'utf8'));
  const turns = Object.entries(sample.conversation)
    .filter(([key]) => /^session_\d+$/.test(key))
    .flatMap(([, session]) => session);
  const encoder = await Encoder.load({ ...(values.model ? { model: values.model } : {}), device: 'cpu' });
  console.log(`model: ${encoder.modelPath} (${encoder.dimensions} dimensions, ${encoder.device})`);
  console.log(`memories: ${turns.length} turns of ${sample.sample_id}\n`);

  // Memories with the model's document prompt, questions with its query prompt, cosine ranking.
  const memories = new SearchIndex({ encoder, mode: 'dense' });
  await memories.add(turns.map((t) => `${t.speaker}: ${t.text}`));
  let hits = 0;
  let gold = 0;
  for (const { question, evidence } of sample.qa.filter((q) => q.evidence?.length)) {
    const ranked = (await memories.search(question, k)).map(({ index, score }) => ({ i: index, score }));
    const found = ranked.filter(({ i }) => evidence.includes(turns[i].dia_id)).length;
    hits += found;
    gold += evidence.length;
    console.log(`Q: ${question}   (gold ${evidence.join(', ')}: ${found}/${evidence.length} in top ${k})`);
    for (const { i, score } of ranked) {
      const t = turns[i];
      console.log(`  ${evidence.includes(t.dia_id) ? '✓' : ' '} ${t.dia_id.padEnd(6)} ${score.toFixed(3)}  ${t.speaker}: ${t.text}`);
    }
  }
  console.log(`\nevidence turns found in the top ${k}: ${hits}/${gold}`);
  await encoder.dispose();
} catch (error) {
  if (error instanceof EvomemError) {
    console.error(`evomem: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
