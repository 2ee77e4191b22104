import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Encoder, EvolvingEncoder, fusionExamples, QueryAdapter, readDataset, SearchIndex, toTrainingJsonl, trainAdapter, trainFusion, type EncoderOptions, type TrainingReport } from '@evomem/core';
import { mineDataset, type MiningFlags } from './mining.js';
import { progressBar, table } from './progress.js';
import { inputFile, outputDir } from './userErrors.js';

export interface TrainFlags extends MiningFlags {
  out: string;
  model?: string;
  device: EncoderOptions['device'];
  threads?: number;
  evolving: boolean;
  projection: 'low-rank' | 'linear';
  rank: number;
  queue: number;
  epochs: number;
  validation: number;
  learningRate: number;
}

/**
 * `evomem train`: mines HiNS negatives from a dataset and trains a query adapter on the
 * frozen encoder. Writes DIR/adapter.json (for `--adapter DIR` and `Encoder.load({ adapter })`)
 * and DIR/negatives.jsonl (the groups trained on, for full fine-tuning in Python).
 */
export async function runTrain(flags: TrainFlags): Promise<TrainingReport> {
  await inputFile(flags.data, '--data');
  await outputDir(flags.out, '--out');
  const encoder = await Encoder.load({ device: flags.device, ...(flags.model ? { model: flags.model } : {}), ...(flags.threads ? { threads: flags.threads } : {}) });
  try {
    const mined = await mineDataset(flags, encoder);
    const bar = progressBar('train');
    let total = 0;
    const { adapter, report } = await trainAdapter(
      encoder,
      { messages: mined.messages, groups: mined.groups },
      {
        evolving: flags.evolving,
        projection: flags.projection,
        rank: flags.rank,
        queueSize: flags.queue,
        maxEpochs: flags.epochs,
        validationFraction: flags.validation,
        learningRate: flags.learningRate,
        seed: flags.seed,
        onProgress: (p) => {
          if (total === 0) bar.start((total = p.maxEpochs * p.steps));
          bar.update((p.epoch - 1) * p.steps + p.step);
        },
      },
    ).finally(() => bar.stop());
    const fused = await learnFusion(flags, adapter);
    await mkdir(flags.out, { recursive: true });
    const file = await fused.save(flags.out);
    await writeFile(join(flags.out, 'negatives.jsonl'), toTrainingJsonl(mined.groups));
    const epochs = report.validationLoss.map((loss, epoch) => [
      epoch === 0 ? '0 (identity)' : String(epoch),
      epoch === 0 ? '-' : report.trainLoss[epoch - 1]!.toFixed(3),
      loss.toFixed(3),
      report.validationRecallAt10[epoch]!.toFixed(3),
    ]);
    if (epochs.length) console.log(table(['epoch', 'train loss', 'validation loss', 'validation recall@10'], epochs));
    console.log(
      `${report.epochs} epochs${report.stoppedEarly ? ' (stopped early)' : ''}, kept epoch ${report.bestEpoch}; ${report.groups.train} training / ${report.groups.validation} validation groups; ` +
        `embedding ${report.embedSeconds.toFixed(1)} s, training ${report.trainSeconds.toFixed(1)} s`,
    );
    if (report.validationLoss.length && report.bestEpoch === 0) console.log('no epoch beat the untrained adapter on validation: the adapter is the identity (more or other data may help)');
    console.log(`${report.projection} adapter (${report.parameters} parameters${report.evolving ? ', evolving gate' : ''}${fused.fusion ? ', pipeline fusion weights' : ''}) for ${adapter.model.id} -> ${file}`);
    return report;
  } finally {
    await encoder.dispose();
  }
}

/**
 * The retrieval pipeline's fusion weights, learned on the same file's questions with the
 * trained adapter's queries (on the evolving backend with --evolving), stored in the adapter.
 * A file whose questions have no evidence in its turns keeps the default weights.
 */
async function learnFusion(flags: TrainFlags, adapter: QueryAdapter): Promise<QueryAdapter> {
  const turns = await readDataset(flags.data, { unit: 'turn' });
  const encoder = await Encoder.load({ device: flags.device, ...(flags.model ? { model: flags.model } : {}), ...(flags.threads ? { threads: flags.threads } : {}), adapter });
  try {
    const backend = flags.evolving ? 'evolving' : 'static';
    const open = () => (flags.evolving ? new SearchIndex({ evolving: new EvolvingEncoder(encoder, { onWarning: () => {}, ...(adapter.evolving ? { weights: adapter.evolving } : {}) }) }) : new SearchIndex({ encoder }));
    const examples = (await fusionExamples(turns, open)).flatMap((c) => c.examples);
    if (examples.length === 0) {
      console.log(`no question of ${flags.data} has evidence among its turns: the adapter keeps the default fusion weights`);
      return adapter;
    }
    const { weights, report } = trainFusion(examples, { seed: flags.seed });
    console.log(`fusion weights (${backend}) from ${report.questions} questions, kept step ${report.bestStep}: ${Object.entries(weights).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
    return new QueryAdapter({ model: adapter.model, projection: adapter.projection, evolving: adapter.evolving, training: adapter.training, fusion: { [backend]: weights } });
  } finally {
    await encoder.dispose();
  }
}
