// pnpm bench:evolving-cost — what the evolving encoder costs over a long synthetic stream
// (default 100,000 turns, default model and options): ingest rate against static
// embedding of the same turns, query latency of a brute-force scan over every vector,
// the stream's state in the SQLite store (bounded), and process memory.
// Writes bench/results/evolving-cost.json.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Encoder, EvolvingEncoder, EvolvingMemory, readDataset, SqliteStateStore } from '@evomem/core';
import { benchArgs, commandLine, percentile, provenance, resultsDir, sharedDir, table } from './shared.js';

const { values: args } = parseArgs({ args: benchArgs(), options: { turns: { type: 'string', default: '100000' }, chunk: { type: 'string', default: '2000' }, out: { type: 'string', default: join(resultsDir, 'evolving-cost.json') } } });
const total = Number(args.turns);
// Taken before the run: the commit and tree the measured code came from.
const origin = await provenance(commandLine('evolving-cost'));
const chunk = Number(args.chunk);
const locomo = join(sharedDir, 'data/locomo/locomo-dev.json');
const sample = new URL('../../data/sample-conversation.json', import.meta.url).pathname;
const source = await readDataset(await stat(locomo).then(() => locomo, () => sample));
const pool = source.corpora.flatMap((c) => c.units);
const turnAt = (i: number) => {
  const u = pool[i % pool.length]!;
  // Sessions of 20 turns; the pool repeats, ids do not.
  return { id: `turn-${i}`, text: u.text.replace(/^[^:]+: /, ''), speaker: u.speaker ?? 'unknown', session: String(Math.floor(i / 20)) };
};

const encoder = await Encoder.load({ device: 'cpu' });
const dir = await mkdtemp(join(tmpdir(), 'evomem-cost-'));
const store = await SqliteStateStore.open({ path: join(dir, 'state.db') });
const memory = new EvolvingMemory(new EvolvingEncoder(encoder, { onWarning: () => {} }), { store });
const D = encoder.dimensions;
// The bench's own in-process index of every evolving vector, for the scan below: evomem keeps none.
const vectors = new Float32Array(total * D);
const checkpoints: { turns: number; rssMiB: number; heapMiB: number; stateBytes: number; turnsPerSecond: number; staticTurnsPerSecond: number }[] = [];
let evolvingSeconds = 0;
let staticSeconds = 0;
for (let done = 0; done < total; ) {
  const n = Math.min(chunk, total - done);
  const turns = Array.from({ length: n }, (_, i) => turnAt(done + i));
  // Static and evolving embedding of the same turns, side by side in one run.
  let t = performance.now();
  await encoder.embedDocuments(turns.map((s) => `${s.speaker}: ${s.text}`));
  const staticTime = (performance.now() - t) / 1000;
  t = performance.now();
  const { embeddings } = await memory.ingest('synthetic', turns);
  const evolvingTime = (performance.now() - t) / 1000;
  embeddings.forEach((e, i) => vectors.set(e, (done + i) * D));
  staticSeconds += staticTime;
  evolvingSeconds += evolvingTime;
  done += n;
  const mem = process.memoryUsage();
  checkpoints.push({ turns: done, rssMiB: mem.rss / 2 ** 20, heapMiB: mem.heapUsed / 2 ** 20, stateBytes: await store.stateBytes('synthetic'), turnsPerSecond: n / evolvingTime, staticTurnsPerSecond: n / staticTime });
  console.error(`${done} turns: RSS ${checkpoints.at(-1)!.rssMiB.toFixed(0)} MiB, state ${(checkpoints.at(-1)!.stateBytes / 2 ** 20).toFixed(2)} MiB, ${checkpoints.at(-1)!.turnsPerSecond.toFixed(0)} turns/s`);
}

const latencies: number[] = [];
const scores = new Float32Array(total);
for (const q of source.corpora.flatMap((c) => c.questions).slice(0, 50)) {
  const t = performance.now();
  const query = await memory.embedQuery(q.text, 'synthetic');
  for (let i = 0; i < total; i++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += vectors[i * D + d]! * query[d]!;
    scores[i] = s;
  }
  Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!).slice(0, 10);
  latencies.push(performance.now() - t);
}
const state = (await memory.state('synthetic'))!;
const stateBytes = await store.stateBytes('synthetic');
await store.close();
await rm(dir, { recursive: true, force: true });

const first = checkpoints[0]!;
const last = checkpoints.at(-1)!;
const result = {
  benchmark: 'evolving-cost',
  ...origin,
  model: encoder.modelId,
  turns: total,
  ingestTurnsPerSecond: total / evolvingSeconds,
  staticTurnsPerSecond: total / staticSeconds,
  /** Evolving ingest time over static embedding time for the same turns, measured side by side. */
  ingestCostOverStatic: evolvingSeconds / staticSeconds,
  queryLatencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), over: total, what: 'query encoding plus a brute-force scan of every vector in process (the bench keeps them; evomem keeps none)' },
  state: { store: 'sqlite', bytes: stateBytes, queueEntries: state.queue.size, tailSegments: state.tail.length, bytesAt: { [first.turns]: first.stateBytes, [last.turns]: last.stateBytes } },
  rssMiB: { first: first.rssMiB, last: last.rssMiB, indexMiB: (total * D * 4) / 2 ** 20 },
  checkpoints,
};
await writeFile(args.out!, `${JSON.stringify(result, null, 2)}\n`);
console.log(
  table(
    ['turns', 'evolving turns/s', 'static turns/s', 'cost over static', 'query p50 ms (scan)', 'state bytes (first / last)', 'RSS first/last MiB (bench index MiB)'],
    [
      [
        total,
        result.ingestTurnsPerSecond.toFixed(0),
        result.staticTurnsPerSecond.toFixed(0),
        `${result.ingestCostOverStatic.toFixed(2)}x`,
        result.queryLatencyMs.p50.toFixed(1),
        `${first.stateBytes} / ${last.stateBytes}`,
        `${first.rssMiB.toFixed(0)} / ${last.rssMiB.toFixed(0)} (${result.rssMiB.indexMiB.toFixed(0)})`,
      ],
    ],
  ),
);
console.error(`wrote ${args.out}`);
