import { Command, InvalidArgumentError, Option } from 'commander';
import { listRetrievers } from '@evomem/core';
import { runEmbed } from './embedCommand.js';
import { runEval } from './evalCommand.js';
import { runMine } from './mineCommand.js';
import { runQuantize } from './quantizeCommand.js';
import { runStateExport, runStateImport, runStateList } from './stateCommand.js';
import { runTrain } from './trainCommand.js';
import { describeUserError } from './userErrors.js';

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

const dtype = () =>
  new Option('--dtype <dtype>', "weights: fp32, or int8 (evomem quantizes the fp32 graph once and caches it; see evomem quantize)").choices(['fp32', 'int8']).default('fp32');

const unitInterval = (name: string) => (value: string) => {
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError(`${name} must be a number in [0, 1).`);
  return n;
};
const positiveNumber = (name: string) => (value: string) => {
  const n = Number(value);
  if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number.`);
  return n;
};
const wholeNumber = (name: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number.`);
  return n;
};
const querySource = () =>
  new Option('--queries <source>', 'queries: QA questions, LoCoMo observation facts, both, or auto (QA when the file has any, else observations)')
    .choices(['auto', 'qa', 'observations', 'both'])
    .default('auto');
const miningOptions = (command: Command) =>
  command
    .addOption(querySource())
    .option('--negatives <n>', 'negatives per (query, positive)', positiveInt('--negatives'), 15)
    .option('--ratios <spec>', 'hins (0.3,0.3,0.4), estimated (from the data), or hard,medium,easy', 'hins')
    .option('--seed <n>', 'seed of the order within tiers, the split and the initialization', positiveInt('--seed'), 1)
    .option('--model <path-or-id>', 'the frozen encoder (default: the offline default model)');

const program = new Command('evomem')
  .description('Memory-retrieval embeddings for agents: evaluate retrievers on LoCoMo / LongMemEval files, embed JSONL in bulk, mine HiNS negatives and train adapters.')
  .showHelpAfterError()
  .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') })
  // Usage errors exit 2, as POSIX tools do, so scripts can tell them from failed runs (1).
  .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : 2));

program
  .command('eval')
  .description('Score a retriever on a LoCoMo or LongMemEval file: recall@k, recall_any@k, nDCG@k, MRR, overall and by category.')
  .requiredOption('--data <file>', 'dataset file (locomo10.json list format, longmemeval_s / _m / _oracle, or an evomem memory log)')
  .addOption(new Option('--format <format>', 'dataset format (detected when omitted)').choices(['locomo', 'longmemeval', 'memory-log']))
  .addOption(new Option('--unit <unit>', 'what is indexed').choices(['turn', 'session', 'observation']).default('turn'))
  .option('--retriever <name>', `retriever: ${listRetrievers().map((r) => r.name).join(', ')}`, 'pipeline')
  .option('--model <path-or-id>', 'encoder model folder or Hugging Face id (default: the offline default model)')
  .option('--adapter <dir>', "a trained adapter (the folder evomem train wrote), or evolving weights for evolving retrievers (default: the model's own, if it ships one)")
  .option('--no-adapter', "no query adapter, not even the model's own")
  .option('--k <list>', 'cut-offs', ks, [1, 5, 10, 20])
  .option('--json <file>', 'also write the full report as JSON')
  .option('--include-adversarial', 'keep LoCoMo category 5 / LongMemEval abstention questions', false)
  .addOption(device)
  .addOption(dtype())
  .option('--threads <n>', 'onnxruntime threads (default: all cores)', positiveInt('--threads'))
  .action(async (flags) => {
    await runEval(flags);
  });

program
  .command('embed')
  .description('Embed the text field of every line of a JSONL file; streams, and resumes an interrupted run from where its output ends.')
  .requiredOption('--in <file>', 'input JSONL, one object per line')
  .requiredOption('--out <file>', 'output file; one made by the same model, mode, field and input is resumed, any other file is refused')
  .option('--field <name>', 'field holding the text', 'text')
  .addOption(new Option('--format <format>', 'jsonl: a header line, then {"index", "embedding"} per line; f32: EVOMEMF2 header, then float32 rows').choices(['jsonl', 'f32']).default('jsonl'))
  .addOption(new Option('--mode <mode>', "prompt the model's document or query prompt, or none").choices(['document', 'query', 'raw']).default('document'))
  .option('--model <path-or-id>', 'encoder model folder or Hugging Face id (default: the offline default model)')
  .option('--batch <n>', 'texts read and written per step', positiveInt('--batch'), 256)
  .addOption(device)
  .addOption(dtype())
  .option('--threads <n>', 'onnxruntime threads (default: all cores)', positiveInt('--threads'))
  .action(async (flags) => {
    const { embedded, resumedFrom } = await runEmbed(flags);
    console.error(`embedded ${embedded} texts${resumedFrom ? ` (resumed after ${resumedFrom})` : ''} into ${flags.out}`);
  });

miningOptions(
  program
    .command('mine')
    .description('Mine HiNS hierarchical negatives (hard: same topic, other speaker; medium: rest of the conversation; easy: other conversations) as fine-tuning JSONL.')
    .requiredOption('--data <file>', 'LoCoMo or LongMemEval file')
    .requiredOption('--out <file>', 'output JSONL: {"query", "pos": [...], "neg": [...]} per line (sentence-transformers / FlagEmbedding format)'),
)
  .addOption(device)
  .action(async (flags) => {
    await runMine(flags);
  });

miningOptions(
  program
    .command('train')
    .description('Mine HiNS negatives from a dataset and train a query adapter on the frozen encoder (InfoNCE, temperature 0.02, negative queue, early stopping); use it with --adapter DIR.')
    .requiredOption('--data <file>', 'LoCoMo or LongMemEval file, or a memory log of your own (EvomemMemory memoryLog)')
    .requiredOption('--out <dir>', 'folder for adapter.json and negatives.jsonl'),
)
  .option('--evolving', 'train for the evolving encoder (its gate too); use with --retriever evolving', false)
  .addOption(new Option('--projection <kind>', 'query projection').choices(['low-rank', 'linear']).default('low-rank'))
  .option('--rank <n>', 'rank of the low-rank projection', positiveInt('--rank'), 16)
  .option('--queue <n>', 'negative queue size (0: off)', wholeNumber('--queue'), 1024)
  .option('--epochs <n>', 'most epochs (early stopping usually ends sooner)', positiveInt('--epochs'), 30)
  .option('--validation <fraction>', 'share of queries held out for early stopping (0: none)', unitInterval('--validation'), 0.1)
  .option('--learning-rate <rate>', 'Adam step size of the projection', positiveNumber('--learning-rate'), 0.002)
  .addOption(device)
  .option('--threads <n>', 'onnxruntime threads (default: all cores)', positiveInt('--threads'))
  .action(async (flags) => {
    await runTrain(flags);
  });

program
  .command('quantize')
  .description("Make a model's int8 graph (dynamic quantization: int8 weights per output column, activations at run time), cached beside the model; prints where it is and how closely it agrees with fp32.")
  .option('--model <path-or-id>', 'encoder model folder or Hugging Face id (default: the offline default model)')
  .option('--reduce-range', '7-bit weights, for x86 CPUs with AVX2 but no VNNI (exact there; slightly coarser elsewhere)', false)
  .option('--threads <n>', 'onnxruntime threads for the agreement check (default: all cores)', positiveInt('--threads'))
  .action(async (flags) => {
    await runQuantize(flags);
  });

const state = program
  .command('state')
  .description('Evolving memory state stores (sqlite:PATH, postgres://..., memory:): list streams, export them to a checked file, import an export or an evomem 0.1 stream file.');
const storeOption = () => new Option('--store <where>', 'the state store: sqlite:PATH, postgres://user:password@host/db').makeOptionMandatory();
state
  .command('list')
  .description('Every stream of the store, with its segment count and state size.')
  .addOption(storeOption())
  .action(async (flags) => {
    await runStateList(flags);
  });
state
  .command('export')
  .description('Write streams (state and ledger) to one file, checked by SHA-256, written under a temporary name and renamed when complete.')
  .addOption(storeOption())
  .requiredOption('--out <file>', 'the export file')
  .option('--stream <id...>', 'only these streams (default: all)')
  .action(async (flags) => {
    await runStateExport(flags);
  });
state
  .command('import')
  .description('Read an export into the store (checked whole first), or move an evomem 0.1 stream file (MemoryStream.save) over.')
  .addOption(storeOption())
  .requiredOption('--in <file>', 'an export, or an evomem 0.1 stream file')
  .option('--replace', 'overwrite streams the store already has', false)
  .option('--stream <id>', '0.1 files: the stream to create (default: the id saved in the file)')
  .option('--vectors-out <file>', '0.1 files: write the segments and their embeddings here as JSONL, for your vector store')
  .option('--model <path-or-id>', '0.1 files: the encoder the stream was made with (default: the offline default model)')
  .addOption(device)
  .action(async (flags) => {
    await runStateImport(flags);
  });

try {
  await program.parseAsync();
} catch (error) {
  // A user's mistake gets one line; anything else is a bug, and its stack trace helps fix it.
  const message = describeUserError(error);
  if (message === undefined) throw error;
  console.error(`evomem: ${message}`);
  process.exit(1);
}
