// The main job: store a conversation as memories, then answer questions by retrieval.
import { stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Encoder, EvomemError, readDataset, SearchIndex, unitMeta } from '@evomem/core';

const USAGE = `Usage: pnpm demo [--model PATH|HUB_ID] [--data FILE] [--k N]

Stores the turns of one conversation as memories, then answers the conversation's
questions by retrieval and shows the top k turns for each.

Options:
  --model PATH|HUB_ID  encoder model folder or Hugging Face id (default: the offline default model)
  --data FILE          a LoCoMo or LongMemEval file or a memory log; its first conversation with
                       questions is used (default: data/sample-conversation.json)
  --k N                turns shown per question, a positive integer (default: 3)
  -h, --help           show this help`;

/** A usage mistake: one line, the usage, exit code 2. */
function usageError(message) {
  console.error(`demo: ${message}\n\n${USAGE}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      model: { type: 'string' },
      data: { type: 'string', default: fileURLToPath(new URL('../data/sample-conversation.json', import.meta.url)) },
      k: { type: 'string', default: '3' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }));
} catch (error) {
  usageError(error.message);
}
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const k = Number(values.k);
if (!Number.isInteger(k) || k < 1) usageError(`--k must be a positive integer; got ${JSON.stringify(values.k)}.`);

try {
  const info = await stat(values.data).catch(() => undefined);
  if (!info?.isFile()) throw new EvomemError('DATASET_INVALID', `--data ${values.data} ${info ? 'is a folder' : 'does not exist'}; pass a dataset file.`);
  const dataset = await readDataset(values.data);
  const corpus = dataset.corpora.find((c) => c.questions.length > 0);
  if (!corpus) throw new EvomemError('DATASET_INVALID', `${values.data} has no question with evidence to answer.`);
  const encoder = await Encoder.load({ ...(values.model ? { model: values.model } : {}), device: 'cpu' });
  console.log(`model: ${encoder.modelPath} (${encoder.dimensions} dimensions, ${encoder.device})`);
  console.log(`memories: ${corpus.units.length} turns of ${corpus.id}`);
  console.log(`gold = the turns the dataset marks as the evidence that answers the question; ✓ = a retrieved turn that is gold\n`);

  // The retrieval pipeline, evomem's default: BM25 and dense scores with each turn's
  // neighbours, session, speaker and date, fused with the weights the model's adapter ships.
  const memories = new SearchIndex({ encoder });
  await memories.add(
    corpus.units.map((u) => u.text),
    corpus.units.map(unitMeta),
  );
  let hits = 0;
  let gold = 0;
  for (const { text: question, evidence } of corpus.questions) {
    const ranked = await memories.search(question, k);
    const found = ranked.filter(({ index }) => evidence.includes(corpus.units[index].key)).length;
    hits += found;
    gold += evidence.length;
    console.log(`Q: ${question}   (gold ${evidence.join(', ')}: ${found}/${evidence.length} in top ${k})`);
    for (const { index, score } of ranked) {
      const unit = corpus.units[index];
      console.log(`  ${evidence.includes(unit.key) ? '✓' : ' '} ${unit.key.padEnd(6)} ${score.toFixed(3)}  ${unit.text}`);
    }
  }
  console.log(`\ngold turns found in the top ${k}: ${hits}/${gold}`);
  await encoder.dispose();
} catch (error) {
  if (error instanceof EvomemError) {
    console.error(`demo: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
