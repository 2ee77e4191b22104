import { writeFile } from 'node:fs/promises';
import { Encoder, EvomemError, HierarchicalNegativeSampler, readDataset, samplerInputFromDataset, toTrainingJsonl, type EncoderOptions, type Tier } from '@evomem/core';

export interface MineFlags {
  data: string;
  out: string;
  queries: 'qa' | 'observations' | 'both';
  negatives: number;
  ratios: string;
  seed: number;
  model?: string;
  device: EncoderOptions['device'];
}

/** `evomem mine`: HiNS tiered negatives from a conversation dataset, as fine-tuning JSONL. */
export async function runMine(flags: MineFlags): Promise<void> {
  const turns = await readDataset(flags.data, { unit: 'turn' });
  let observations = flags.queries === 'qa' ? undefined : await readDataset(flags.data, { unit: 'observation' }).catch((error: unknown) => error as Error);
  if (observations instanceof Error) {
    if (flags.queries === 'observations') throw new EvomemError('DATASET_INVALID', `${flags.data} has no usable observation facts (${observations.message}); use --queries qa.`, { cause: observations });
    console.log(`no observation facts in ${flags.data}; using its QA only`);
    observations = undefined;
  }
  const input = samplerInputFromDataset(flags.queries === 'observations' ? { ...turns, corpora: turns.corpora.map((c) => ({ ...c, questions: [] })) } : turns, observations);
  if (input.queries.length === 0) throw new EvomemError('DATASET_INVALID', `${flags.data} gave no queries for --queries ${flags.queries}; try --queries both.`);
  const encoder = await Encoder.load({ device: flags.device, ...(flags.model ? { model: flags.model } : {}) });
  try {
    let ratios: Record<Tier, number> | undefined;
    if (flags.ratios === 'estimated') ratios = await new HierarchicalNegativeSampler(input.messages, input.queries, { encoder }).estimateRatios();
    else if (flags.ratios !== 'hins') {
      const parts = flags.ratios.split(',').map(Number);
      if (parts.length !== 3 || parts.some((p) => !(p >= 0))) throw new EvomemError('INVALID_OPTION', `--ratios takes hins, estimated, or three numbers like 0.3,0.3,0.4; got ${flags.ratios}.`);
      ratios = { hard: parts[0]!, medium: parts[1]!, easy: parts[2]! };
    }
    const sampler = new HierarchicalNegativeSampler(input.messages, input.queries, { encoder, negatives: flags.negatives, seed: flags.seed, ...(ratios ? { ratios } : {}) });
    const { groups, report } = await sampler.sample();
    await writeFile(flags.out, toTrainingJsonl(groups));
    const used = ratios ?? { hard: 0.3, medium: 0.3, easy: 0.4 };
    console.log(`${groups.length} groups from ${input.queries.length} queries over ${input.messages.length} messages -> ${flags.out}`);
    console.log(`ratios hard/medium/easy: ${[used.hard, used.medium, used.easy].map((r) => r.toFixed(3)).join(' / ')}`);
    console.log(`negatives picked: hard ${report.picked.hard}, medium ${report.picked.medium}, easy ${report.picked.easy}; near-duplicates dropped ${report.droppedDuplicates}; groups short of ${flags.negatives}: ${report.shortGroups}`);
  } finally {
    await encoder.dispose();
  }
}
