// pnpm bench:evolving-cost — what the evolving encoder costs over a long synthetic stream
// (default model, SQLite state store). Two parts:
// - ingest cost by context mode: over the first --compare turns (default 4,000), static
//   embedding, the default mode (`mix`, one encoder pass per turn) and the two-pass `sum`
//   mode ingest the same turns, chunk by chunk, in an order rotated each chunk, so their
//   ratios hold on a busy machine;
// - the default mode's stream continued to --turns (default 20,000): the state in the store
//   (bounded), process memory, and query latency of a brute-force scan over every vector;
// - chat-sized ingests: --small-turns turns (default 400) ingested 1 and 10 at a time.
// The defaults finish in about 10 minutes on a loaded 2-core machine.
// Writes bench/results/evolving-cost.json.
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Encoder, EvolvingEncoder, EvolvingMemory, readDataset, SqliteStateStore, type ContextOptions, type Segment } from '@evomem/core';
import { benchArgs, commandLine, percentile, provenance, resultsDir, sharedDir, table } from './shared.js';

const { values: args } = parseArgs({
  args: benchArgs(),
  options: {
    turns: { type: 'string', default: '20000' },
    compare: { type: 'string', default: '4000' },
    chunk: { type: 'string', default: '1000' },
    'small-turns': { type: 'string', default: '400' },
    out: { type: 'string', default: join(resultsDir, 'evolving-cost.json') },
  },
});
const total = Number(args.turns);
const chunk = Number(args.chunk);
const compare = Math.min(Number(args.compare), total);
// Taken before the run: the commit and tree the measured code came from.
const origin = await provenance(commandLine('evolving-cost'));
const locomo = join(sharedDir, 'data/locomo/locomo-dev.json');
const sample = new URL('../../data/sample-conversation.json', import.meta.url).pathname;
const source = await readDataset(await stat(locomo).then(() => locomo, () => sample));
const pool = source.corpora.flatMap((c) => c.units);
const turnAt = (i: number): Segment => {
  const u = pool[i % pool.length]!;
  // Sessions of 20 turns; the pool repeats, ids do not.
  return { id: `turn-${i}`, text: u.text.replace(/^[^:]+: /, ''), speaker: u.speaker ?? 'unknown', session: String(Math.floor(i / 20)) };
};
const ownText = (s: Segment) => `${s.speaker}: ${s.text}`;

const encoder = await Encoder.load({ device: 'cpu' });
const dir = await mkdtemp(join(tmpdir(), 'evomem-cost-'));
const store = await SqliteStateStore.open({ path: join(dir, 'state.db') });
type Mode = NonNullable<ContextOptions['combine']>;
const MODES: Mode[] = ['mix', 'sum'];
const defaultMode = new EvolvingEncoder(encoder).combine as Mode;
const memories = Object.fromEntries(MODES.map((m) => [m, new EvolvingMemory(new EvolvingEncoder(encoder, { context: { combine: m }, onWarning: () => {} }), { store })])) as Record<Mode, EvolvingMemory>;
const memory = memories[defaultMode];
const D = encoder.dimensions;

// The first call of a session pays for its warm-up: keep it out of every timing.
await encoder.embedDocuments(Array.from({ length: 64 }, (_, i) => ownText(turnAt(i))));

/** Seconds and encoder work (rows, executed tokens) of `run`. */
async function timed(run: () => Promise<unknown>): Promise<{ seconds: number; rows: number; tokens: number }> {
  const before = encoder.stats;
  const t = performance.now();
  await run();
  const seconds = (performance.now() - t) / 1000;
  const after = encoder.stats;
  return { seconds, rows: after.rows - before.rows, tokens: after.executedTokens - before.executedTokens };
}

// The bench's own in-process index of every default-mode vector, for the scan below: evomem keeps none.
const vectors = new Float32Array(total * D);
const work = { static: { seconds: 0, rows: 0, tokens: 0, turns: 0 }, ...Object.fromEntries(MODES.map((m) => [m, { seconds: 0, rows: 0, tokens: 0, turns: 0 }])) } as Record<'static' | Mode, { seconds: number; rows: number; tokens: number; turns: number }>;
const whole = { static: 0, evolving: 0 };
const checkpoints: { turns: number; rssMiB: number; heapMiB: number; stateBytes: number; turnsPerSecond: number; staticTurnsPerSecond: number }[] = [];
for (let done = 0, index = 0; done < total; index++) {
  const n = Math.min(chunk, total - done, done < compare ? compare - done : Infinity);
  const turns = Array.from({ length: n }, (_, i) => turnAt(done + i));
  const comparing = done < compare;
  // Static and evolving embedding of the same turns, side by side; while comparing, the
  // other mode too, each into its own stream, and the order rotated chunk by chunk.
  const steps: ['static' | Mode, () => Promise<unknown>][] = [
    ['static', () => encoder.embedDocuments(turns.map(ownText))],
    ...(comparing ? MODES : [defaultMode]).map((m): [Mode, () => Promise<unknown>] => [
      m,
      async () => {
        const { embeddings } = await memories[m].ingest(`synthetic-${m}`, turns);
        if (m === defaultMode) embeddings.forEach((e, i) => vectors.set(e, (done + i) * D));
      },
    ]),
  ];
  const seconds: Partial<Record<'static' | Mode, number>> = {};
  for (const [what, run] of [...steps.slice(index % steps.length), ...steps.slice(0, index % steps.length)]) {
    const w = await timed(run);
    seconds[what] = w.seconds;
    if (comparing) Object.assign(work[what], { seconds: work[what].seconds + w.seconds, rows: work[what].rows + w.rows, tokens: work[what].tokens + w.tokens, turns: work[what].turns + n });
  }
  whole.static += seconds.static!;
  whole.evolving += seconds[defaultMode]!;
  done += n;
  const mem = process.memoryUsage();
  checkpoints.push({ turns: done, rssMiB: mem.rss / 2 ** 20, heapMiB: mem.heapUsed / 2 ** 20, stateBytes: await store.stateBytes(`synthetic-${defaultMode}`), turnsPerSecond: n / seconds[defaultMode]!, staticTurnsPerSecond: n / seconds.static! });
  const last = checkpoints.at(-1)!;
  console.error(`${done} turns${comparing ? ' (comparing modes)' : ''}: RSS ${last.rssMiB.toFixed(0)} MiB, state ${(last.stateBytes / 2 ** 20).toFixed(2)} MiB, ${defaultMode} ${last.turnsPerSecond.toFixed(0)} turns/s, static ${last.staticTurnsPerSecond.toFixed(0)}`);
}

const latencies: number[] = [];
const scores = new Float32Array(total);
for (const q of source.corpora.flatMap((c) => c.questions).slice(0, 50)) {
  const t = performance.now();
  const query = await memory.embedQuery(q.text, `synthetic-${defaultMode}`);
  for (let i = 0; i < total; i++) {
    let s = 0;
    for (let d = 0; d < D; d++) s += vectors[i * D + d]! * query[d]!;
    scores[i] = s;
  }
  Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]!).slice(0, 10);
  latencies.push(performance.now() - t);
}
// Chat-sized ingests: an agent stores a turn or a few at a time, and each ingest is one
// state-store transaction. Static embedding of the same texts, call by call, alternating.
const smallTurns = Number(args['small-turns']);
const smallIngests: Record<string, { turns: number; staticMsPerTurn: number; ingestMsPerTurn: number; costOverStatic: number }> = {};
for (const size of [1, 10]) {
  let staticSeconds = 0;
  let ingestSeconds = 0;
  for (let done = 0; done < smallTurns; done += size) {
    const turns = Array.from({ length: size }, (_, i) => ({ ...turnAt(done + i), id: `small-${size}-${done + i}` }));
    staticSeconds += (await timed(() => encoder.embedDocuments(turns.map(ownText)))).seconds;
    ingestSeconds += (await timed(() => memory.ingest(`small-${size}`, turns))).seconds;
  }
  smallIngests[size] = { turns: smallTurns, staticMsPerTurn: (staticSeconds * 1000) / smallTurns, ingestMsPerTurn: (ingestSeconds * 1000) / smallTurns, costOverStatic: ingestSeconds / staticSeconds };
  console.error(`ingests of ${size}: ${defaultMode} ${smallIngests[size]!.ingestMsPerTurn.toFixed(2)} ms/turn, static ${smallIngests[size]!.staticMsPerTurn.toFixed(2)}`);
}

const state = (await memory.state(`synthetic-${defaultMode}`))!;
const stateBytes = await store.stateBytes(`synthetic-${defaultMode}`);
await store.close();
await rm(dir, { recursive: true, force: true });

const s = work.static;
const modes = Object.fromEntries(
  MODES.map((m) => {
    const w = work[m];
    return [m, { turnsPerSecond: w.turns / w.seconds, costOverStatic: w.seconds / s.seconds, encoderRowsPerTurn: w.rows / w.turns, executedTokensOverStatic: w.tokens / s.tokens }];
  }),
) as Record<Mode, { turnsPerSecond: number; costOverStatic: number; encoderRowsPerTurn: number; executedTokensOverStatic: number }>;
const first = checkpoints[0]!;
const last = checkpoints.at(-1)!;
const result = {
  benchmark: 'evolving-cost',
  ...origin,
  model: encoder.modelId,
  turns: total,
  defaultMode,
  /** Default-mode ingest time over static embedding time for the same turns, measured side by side (`comparison`). */
  ingestCostOverStatic: modes[defaultMode].costOverStatic,
  comparison: {
    turns: work.static.turns,
    staticTurnsPerSecond: s.turns / s.seconds,
    what: `the first ${work.static.turns} turns: static embedding and each context mode's ingest (its own stream, SQLite store) over the same turns, in chunks of ${chunk}, order rotated each chunk. costOverStatic is time over static time; executedTokensOverStatic the encoder's executed (padded) tokens over static's, which no other load on the machine changes`,
  },
  modes,
  /** The default mode over the whole stream. */
  ingestTurnsPerSecond: total / whole.evolving,
  staticTurnsPerSecond: total / whole.static,
  wholeStreamCostOverStatic: whole.evolving / whole.static,
  smallIngests,
  smallIngestsNote: `the default mode ingesting ${smallTurns} turns 1 or 10 at a time (each ingest one SQLite transaction), against static embedding of the same texts call by call, alternating`,
  queryLatencyMs: { p50: percentile(latencies, 50), p90: percentile(latencies, 90), over: total, what: 'query encoding plus a brute-force scan of every vector in process (the bench keeps them; evomem keeps none)' },
  state: { store: 'sqlite', mode: defaultMode, bytes: stateBytes, queueEntries: state.queue.size, tailSegments: state.tail.length, bytesAt: { [first.turns]: first.stateBytes, [last.turns]: last.stateBytes } },
  rssMiB: { first: first.rssMiB, last: last.rssMiB, indexMiB: (total * D * 4) / 2 ** 20 },
  checkpoints,
};
await writeFile(args.out!, `${JSON.stringify(result, null, 2)}\n`);
console.log(`Ingest cost by context mode, over the first ${work.static.turns} turns (static embedding ${result.comparison.staticTurnsPerSecond.toFixed(0)} turns/s, same turns, same run):`);
console.log(
  table(
    ['mode', 'turns/s', 'cost over static', 'encoder rows per turn', 'executed tokens over static'],
    MODES.map((m) => [`${m}${m === defaultMode ? ' (default)' : ''}`, modes[m].turnsPerSecond.toFixed(0), `${modes[m].costOverStatic.toFixed(2)}x`, modes[m].encoderRowsPerTurn.toFixed(2), `${modes[m].executedTokensOverStatic.toFixed(2)}x`]),
  ),
);
console.log(`\nChat-sized ingests (${smallTurns} turns, ${defaultMode}, each ingest one SQLite transaction, against static embedding of the same texts):`);
console.log(table(['turns per ingest', 'ingest ms/turn', 'static ms/turn', 'cost over static'], Object.entries(smallIngests).map(([size, r]) => [size, r.ingestMsPerTurn.toFixed(2), r.staticMsPerTurn.toFixed(2), `${r.costOverStatic.toFixed(2)}x`])));
console.log(`\nThe ${defaultMode} stream over all ${total} turns (${result.wholeStreamCostOverStatic.toFixed(2)}x static):`);
console.log(
  table(
    ['turns', `${defaultMode} turns/s`, 'static turns/s', 'query p50 ms (scan)', 'state bytes (first / last)', 'RSS first/last MiB (bench index MiB)'],
    [
      [
        total,
        result.ingestTurnsPerSecond.toFixed(0),
        result.staticTurnsPerSecond.toFixed(0),
        result.queryLatencyMs.p50.toFixed(1),
        `${first.stateBytes} / ${last.stateBytes}`,
        `${first.rssMiB.toFixed(0)} / ${last.rssMiB.toFixed(0)} (${result.rssMiB.indexMiB.toFixed(0)})`,
      ],
    ],
  ),
);
console.error(`wrote ${args.out}`);
