// pnpm train:defaults: trains what ships with the offline default model and core, on both dev
// files (LoCoMo conv-26 and conv-30, FriendsQA's 9 episodes):
// - the default query adapter (HiNS negatives, trainAdapter's defaults), with the pipeline's
//   fusion weights learned on its queries for both backends, into
//   packages/model-use-lite/adapter/adapter.json (the build copies it into the model folder);
// - the fusion weights for encoders without an adapter (other models, `adapter: false`), into
//   packages/core/src/retrieval/defaultFusion.ts.
// How well this recipe carries to conversations it has not seen: pnpm bench:retrieval, which
// runs it leave-one-conversation-out.
import { writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { Encoder, QueryAdapter, trainFusion, type FusionWeights } from '@evomem/core';
import { corpusExamples, loadDevData, trainFoldAdapter, type Backend, type DevData } from './pipelineFolds.js';
import { benchArgs, benchRoot, commandLine, provenance, requireShared, sharedDir } from './shared.js';

const { values: args } = parseArgs({ args: benchArgs(), options: { locomo: { type: 'string' }, friendsqa: { type: 'string' } } });
if (!args.locomo || !args.friendsqa) requireShared();
const origin = await provenance(commandLine('train-defaults', 'train:defaults'));
const files = {
  LoCoMo: args.locomo ?? join(sharedDir, 'data/locomo/locomo-dev.json'),
  FriendsQA: args.friendsqa ?? join(sharedDir, 'data/friendsqa/friendsqa-dev.json'),
};
const repo = join(benchRoot, '..');
const encoder = await Encoder.load({ device: 'cpu', adapter: false });
const data = await loadDevData(files, encoder);

const fusionFor = (d: DevData, adapter: QueryAdapter | undefined) =>
  Object.fromEntries(
    (['static', 'evolving'] as Backend[]).map((backend) => {
      const { weights, report } = trainFusion(d.corpora.flatMap((c) => corpusExamples(c, backend, adapter)));
      console.error(`${backend} fusion${adapter ? ' with the adapter' : ''}: ${JSON.stringify(weights)} (best step ${report.bestStep})`);
      return [backend, weights];
    }),
  ) as Record<Backend, FusionWeights>;

const { adapter, seconds, groups } = await trainFoldAdapter(data, encoder);
console.error(`adapter: ${groups} groups, ${seconds.toFixed(0)} s`);
const shipped = new QueryAdapter({
  model: adapter.model,
  projection: adapter.projection,
  evolving: adapter.evolving,
  training: { ...adapter.training, data: Object.fromEntries(Object.entries(files).map(([n, f]) => [n, relative(repo, f)])), corpora: data.corpora.map((c) => `${c.dataset} ${c.corpus.id}`), command: origin.command, commit: origin.commit, date: origin.date },
  fusion: fusionFor(data, adapter),
});
const adapterFile = await shipped.save(join(repo, 'packages/model-use-lite/adapter/adapter.json'));
const plain = fusionFor(data, undefined);
await writeFile(
  join(repo, 'packages/core/src/retrieval/defaultFusion.ts'),
  `import type { FusionWeights } from './pipeline.js';

/**
 * The pipeline's fusion weights when neither the caller nor the encoder's adapter gives any
 * (another model, or \`adapter: false\`), per backend. Written by \`pnpm train:defaults\`
 * (bench/src/trainDefaults.ts) at ${origin.commit.slice(0, 7)}${origin.dirty ? " with uncommitted changes" : ""}: learned by \`trainFusion\` on both dev
 * files (LoCoMo conv-26 and conv-30, FriendsQA's 9 episodes) with the offline default model
 * and no adapter. The default model's adapter carries its own, learned with it. How the
 * recipe carries to unseen conversations: \`pnpm bench:retrieval\` (leave one conversation out).
 */
export const DEFAULT_FUSION: Readonly<Record<'static' | 'evolving', Readonly<FusionWeights>>> = ${JSON.stringify(plain, null, 2).replace(/"([a-z0-9]+)":/g, '$1:').replace(/"([a-z0-9-]+)":/g, "'$1':")};
`,
);
await encoder.dispose();
console.error(`wrote ${adapterFile} and packages/core/src/retrieval/defaultFusion.ts`);
