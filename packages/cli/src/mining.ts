import { EvomemError, HierarchicalNegativeSampler, readDataset, samplerInputFromDataset, type Encoder, type NegativeGroup, type SamplerMessage, type SamplerReport, type Tier } from '@evomem/core';

/** Where queries come from: QA, LoCoMo observation facts, both, or `auto` (QA when the file has any, else observations). */
export type QuerySource = 'auto' | 'qa' | 'observations' | 'both';

export interface MiningFlags {
  data: string;
  queries: QuerySource;
  negatives: number;
  ratios: string;
  seed: number;
}

export interface Mined {
  messages: SamplerMessage[];
  queries: number;
  groups: NegativeGroup[];
  report: SamplerReport;
  ratios: Record<Tier, number>;
  /** The query source used (`auto` resolved). */
  source: Exclude<QuerySource, 'auto'>;
}

/** Reads a dataset and mines HiNS groups from it, as `evomem mine` and `evomem train` do. */
export async function mineDataset(flags: MiningFlags, encoder: Encoder, log: (line: string) => void = console.log): Promise<Mined> {
  const turns = await readDataset(flags.data, { unit: 'turn' });
  const hasQa = turns.corpora.some((c) => c.questions.some((q) => q.evidence.length > 0));
  const source = flags.queries === 'auto' ? (hasQa ? 'qa' : 'observations') : flags.queries;
  let observations = source === 'qa' ? undefined : await readDataset(flags.data, { unit: 'observation' }).catch((error: unknown) => error as Error);
  if (observations instanceof Error) {
    if (source === 'observations') {
      throw new EvomemError('DATASET_INVALID', `${flags.data} has no QA with evidence and no usable observation facts (${observations.message}); add QA with evidence or observations.`, { cause: observations });
    }
    log(`no observation facts in ${flags.data}; using its QA only`);
    observations = undefined;
  }
  const input = samplerInputFromDataset(source === 'observations' ? { ...turns, corpora: turns.corpora.map((c) => ({ ...c, questions: [] })) } : turns, observations);
  if (input.queries.length === 0) throw new EvomemError('DATASET_INVALID', `${flags.data} gave no queries for --queries ${flags.queries}; try --queries both.`);
  let ratios: Record<Tier, number> = { hard: 0.3, medium: 0.3, easy: 0.4 };
  if (flags.ratios === 'estimated') ratios = await new HierarchicalNegativeSampler(input.messages, input.queries, { encoder }).estimateRatios();
  else if (flags.ratios !== 'hins') {
    const parts = flags.ratios.split(',').map(Number);
    if (parts.length !== 3 || parts.some((p) => !(p >= 0)) || !(parts[0]! + parts[1]! + parts[2]! > 0)) {
      throw new EvomemError('INVALID_OPTION', `--ratios takes hins, estimated, or three numbers like 0.3,0.3,0.4 (none negative, not all zero); got ${flags.ratios}.`);
    }
    ratios = { hard: parts[0]!, medium: parts[1]!, easy: parts[2]! };
  }
  const sampler = new HierarchicalNegativeSampler(input.messages, input.queries, { encoder, negatives: flags.negatives, seed: flags.seed, ratios });
  const { groups, report } = await sampler.sample();
  log(`${groups.length} groups from ${input.queries.length} queries over ${input.messages.length} messages (queries: ${source})`);
  log(`ratios hard/medium/easy: ${[ratios.hard, ratios.medium, ratios.easy].map((r) => r.toFixed(3)).join(' / ')}`);
  log(`negatives picked: hard ${report.picked.hard}, medium ${report.picked.medium}, easy ${report.picked.easy}; near-duplicates dropped ${report.droppedDuplicates}; groups short of ${flags.negatives}: ${report.shortGroups}`);
  return { messages: input.messages, queries: input.queries.length, groups, report, ratios, source };
}
