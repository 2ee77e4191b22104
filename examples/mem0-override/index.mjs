// Mem0 with evomem as its embedder, offline: add a conversation as memories (infer: false,
// so no LLM is called), then answer questions by retrieval.
// Usage: pnpm start [--data locomo-format.json]
process.env.MEM0_TELEMETRY ??= 'false';
const { mkdtemp, rm } = await import('node:fs/promises');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { parseArgs } = await import('node:util');
const { readDataset } = await import('@evomem/core');
const { EvomemMemory } = await import('@evomem/mem0');

const { values } = parseArgs({
  options: { data: { type: 'string', default: new URL('../../data/sample-conversation.json', import.meta.url).pathname }, 'min-hits': { type: 'string', default: '0' } },
});
const dir = await mkdtemp(join(tmpdir(), 'evomem-mem0-example-'));
try {
  // Memories are stored with evomem's document encoding, searches use its query encoding.
  const memory = await EvomemMemory.create({ dir });
  const { corpora } = await readDataset(values.data);
  let hits = 0;
  let asked = 0;
  for (const { id, units, questions } of corpora) {
    await memory.add(units.map((u) => ({ role: 'user', content: u.text })), { userId: id, infer: false });
    console.log(`# ${id}: ${units.length} turns added to Mem0`);
    const goldText = (key) => units.find((u) => u.key === key)?.text;
    for (const q of questions.slice(0, 5)) {
      const { results } = await memory.search(q.text, { filters: { user_id: id }, topK: 3 });
      const gold = q.evidence.map(goldText);
      const found = results.some((r) => gold.includes(r.memory));
      hits += found ? 1 : 0;
      asked++;
      console.log(`\nQ: ${q.text}  (${found ? 'found' : 'missed'} gold ${q.evidence.join(', ')})`);
      for (const r of results) console.log(`  ${gold.includes(r.memory) ? '✓' : ' '} ${r.score?.toFixed(3)}  ${r.memory}`);
    }
  }
  console.log(`\ngold turn among Mem0's top 3: ${hits}/${asked} questions`);
  if (hits < Number(values['min-hits'])) process.exitCode = 1;
} finally {
  await rm(dir, { recursive: true, force: true });
}
