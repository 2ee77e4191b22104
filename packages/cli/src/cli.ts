import { Command, InvalidArgumentError, Option } from 'commander';
import { EvomemError, listRetrievers } from '@evomem/core';
import { runEmbed } from './embedCommand.js';
import { runEval } from './evalCommand.js';
import { runMine } from './mineCommand.js';

const positiveInt = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer.`);
  return n;
};
const ks = (value: string) => {
  const list = value.split(',').map((v) => Number(v.trim()));
  if (list.length === 0 || list.some((k) => !Number.isInteger(k) || k < 1)) throw new InvalidArgumentError('--k takes positive integers separated by commas, e.g. 1,5,10,20.');
  return list;
};
const device = new Option('--device <device>', 'where the encoder runs').choices(['auto', 'cpu', 'cuda', 'webgpu']).default('cpu');

const program = new Command('evomem')
  .description('Memory-retrieval embeddings for agents: evaluate retrievers on LoCoMo / LongMemEval files, embed JSONL in bulk.')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });

program
  .command('eval')
  .description('Score a retriever on a LoCoMo or LongMemEval file: recall@k, recall_any@k, nDCG@k, MRR, overall and by category.')
  .requiredOption('--data <file>', 'dataset file (locomo10.json list format, or longmemeval_s / _m / _oracle)')
  .addOption(new Option('--format <format>', 'dataset format (detected when omitted)').choices(['locomo', 'longmemeval']))
  .addOption(new Option('--unit <unit>', 'what is indexed').choices(['turn', 'session', 'observation']).default('turn'))
  .option('--retriever <name>', `retriever: ${listRetrievers().map((r) => r.name).join(', ')}`, 'bm25')
  .option('--model <path-or-id>', 'encoder model folder or Hugging Face id (default: the offline default model)')
  .option('--adapter <file>', 'trained adapter for retrievers that use one')
  .option('--k <list>', 'cut-offs', ks, [1, 5, 10, 20])
  .option('--json <file>', 'also write the full report as JSON')
  .option('--include-adversarial', 'keep LoCoMo category 5 / LongMemEval abstention questions', false)
  .addOption(device)
  .option('--threads <n>', 'onnxruntime threads (default: all cores)', positiveInt('--threads'))
  .action(async (flags) => {
    await runEval(flags);
  });

program
  .command('embed')
  .description('Embed the text field of every line of a JSONL file; streams, and resumes an interrupted run from where its output ends.')
  .requiredOption('--in <file>', 'input JSONL, one object per line')
  .requiredOption('--out <file>', 'output file (appended to when it exists: the run resumes)')
  .option('--field <name>', 'field holding the text', 'text')
  .addOption(new Option('--format <format>', 'jsonl: {"index", "embedding"} per line; f32: 16-byte header then float32 rows').choices(['jsonl', 'f32']).default('jsonl'))
  .addOption(new Option('--mode <mode>', "prompt the model's document or query prompt, or none").choices(['document', 'query', 'raw']).default('document'))
  .option('--model <path-or-id>', 'encoder model folder or Hugging Face id (default: the offline default model)')
  .option('--batch <n>', 'texts read and written per step', positiveInt('--batch'), 256)
  .addOption(device)
  .option('--threads <n>', 'onnxruntime threads (default: all cores)', positiveInt('--threads'))
  .action(async (flags) => {
    const { embedded, resumedFrom } = await runEmbed(flags);
    console.error(`embedded ${embedded} texts${resumedFrom ? ` (resumed after ${resumedFrom})` : ''} into ${flags.out}`);
  });

program
  .command('mine')
  .description('Mine HiNS hierarchical negatives (hard: same topic, other speaker; medium: rest of the conversation; easy: other conversations) as fine-tuning JSONL.')
  .requiredOption('--data <file>', 'LoCoMo or LongMemEval file')
  .requiredOption('--out <file>', 'output JSONL: {"query", "pos": [...], "neg": [...]} per line (sentence-transformers / FlagEmbedding format)')
  .addOption(new Option('--queries <source>', 'QA questions, LoCoMo observation facts, or both').choices(['qa', 'observations', 'both']).default('qa'))
  .option('--negatives <n>', 'negatives per (query, positive)', positiveInt('--negatives'), 15)
  .option('--ratios <spec>', 'hins (0.3,0.3,0.4), estimated (from the data), or hard,medium,easy', 'hins')
  .option('--seed <n>', 'seed of the order within tiers', positiveInt('--seed'), 1)
  .option('--model <path-or-id>', 'encoder for topics and the near-duplicate guard (default: the offline default model)')
  .addOption(device)
  .action(async (flags) => {
    await runMine(flags);
  });

try {
  await program.parseAsync();
} catch (error) {
  if (error instanceof EvomemError) {
    console.error(`evomem: ${error.message}`);
    process.exit(1);
  }
  throw error;
}
