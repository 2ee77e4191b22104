// pnpm bench:evolving-cost — what the evolving encoder costs: ingest rate, query latency,
// bytes per stored segment, state file size, and memory over a long synthetic stream
// (default 100,000 turns, default model and options). Writes bench/results/evolving-cost.json.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Encoder, EvolvingEncoder, readDataset } from '@evomem/core';
import { percentile, resultsDir, sharedDir, table } from './shared.js';

const { values: args } = parseArgs({ options: { turns: { type: 'string', default: '100000' }, chunk: { type: 'string', default: '2000' }, out: { type: 'string', default: join(resultsDir, 'evolving-cost.json') } } });
const total = Number(args.turns);
const chunk = Number(args.chunk);
const locomo = join(sharedDir, 'data/locomo/locomo-dev.json');
const sample = new URL('../../data/sample-conversation.json', import.meta.url).pathname;
const source = await readDataset(await stat(locomo).then(() => locomo, () => sample));
const pool = source.corpora.flatMap((c) => c.units);

const encoder = await Encoder.load({ device: 'cpu' });
const stream = new EvolvingEncoder(encoder, { onWarning: () => {} }).stream('synthetic');
const checkpoints: { turns: number; rssMiB: number; heapMiB: number; queueBytes: number; indexBytes: number; turnsPerSecond: number }[] = [];
const started = performance.now();
for (let done = 0; done < total; ) {
  const n = Math.min(chunk, total - done);
  const t = performance.now();
  await stream.ingest(
    Array.from({ length: n }, (_, i) => {
      const u = pool[(done + i) % pool.length]!;
      // Sessions of 20 turns; the pool repeats, ids do not.
      return { id: `turn-${done + i}`, text: u.text.replace(/^[^:]+: /, ''), speaker: u.speaker ?? 'unknown', session: String(Math.floor((done + i) / 20)) };
    }),
  );
  done += n;
  const mem = process.memoryUsage();
  checkpoints.push({
    turns: done,
    rssMiB: mem.rss / 2 ** 20,
    heapMiB: mem.heapUsed / 2 ** 20,
    queueBytes: stream.queue.byteLength,
    indexBytes: done * encoder.dimensions * 4,
    turnsPerSecond: n / ((performance.now() - t) / 1000),
  });
  console.error(`${done} turns: RSS ${checkpoints.at(-1)!.rssMiB.toFixed(0)} MiB, ${checkpoints.at(-1)!.turnsPerSecond.toFixed(0)} turns/s`);
}
const ingestSeconds = (performance.now() - started) / 1000;

const latencies: number[] = [];
for (const q of source.corpora.flatMap((c) => c.questions).slice(0, 50)) {
  const t = performance.now();
  await stream.search(q.text, 10);
  latencies.push(performance.now() - t);
}
const dir = await mkdtemp(join(tmpdir(), 'evomem-cost-'));
const statePath = join(dir, 'stream.evomem');
await stream.save(statePath);
const stateBytes = (await stat(statePath)).size;
await rm(dir, { recursive: true, force: true });

// RSS growth per turn after the queue is full, against the 4 x dimensions bytes each
// stored embedding needs: flat memory means the queue adds nothing once full.
const full = checkpoints.find((c) => c.turns >= stream.queue.capacity + chunk) ?? checkpoints[0]!;
const last = checkpoints.at(-1)!;
const growthPerTurn = ((last.rssMiB - full.rssMiB) * 2 ** 20) / Math.max(1, last.turns - full.turns);
const result = {
  benchmark: 'evolving-cost',
  command: `pnpm bench:evolving-cost --turns ${total}`,
  date: new Date().toISOString(),
  model: encoder.modelPath,
  turns: total,
  ingestTurnsPerSecond: total / ingestSeconds,
  queryLatencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), over: stream.segments.length },
  queueBytes: stream.queue.byteLength,
  bytesPerSegment: { embedding: encoder.dimensions * 4, stateFile: stateBytes / total, rssGrowthAfterQueueFull: growthPerTurn },
  stateFileBytes: stateBytes,
  checkpoints,
};
await writeFile(args.out!, `${JSON.stringify(result, null, 2)}\n`);
console.log(
  table(
    ['turns', 'ingest turns/s', 'query p50 ms', 'queue KiB', 'state file MiB', 'state bytes/turn', 'RSS first/last MiB', 'RSS growth/turn after queue full'],
    [[total, result.ingestTurnsPerSecond.toFixed(0), result.queryLatencyMs.p50.toFixed(1), (result.queueBytes / 1024).toFixed(0), (stateBytes / 2 ** 20).toFixed(1), (stateBytes / total).toFixed(0), `${checkpoints[0]!.rssMiB.toFixed(0)} / ${last.rssMiB.toFixed(0)}`, `${growthPerTurn.toFixed(0)} B`]],
  ),
);
console.error(`wrote ${args.out}`);
