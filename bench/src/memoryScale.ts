// Scale test: many streams through the SQLite store in one process, round-robin, so that
// process memory must stay flat (only the cached streams' bounded state) however many
// turns and streams pass. Vectors come from the cheap fixed source.
import { statSync } from 'node:fs';
import { EvolvingEncoder, EvolvingMemory, MemoryStateStore, SqliteStateStore } from '@evomem/core';
import { HashEncoder, rssMiB, segmentFor } from './memoryShared.js';

export interface ScaleOptions {
  path: string;
  streams: number;
  turnsPerStream: number;
  /** Turns per ingest; streams take turns, one ingest each per round. */
  batch: number;
  synchronous: 'full' | 'normal';
  /** The latent read-out over the queue (see `readOutProbe` for what it costs). */
  latent: boolean;
  onProgress?: (message: string) => void;
}

export interface ScaleReport {
  streams: number;
  turnsPerStream: number;
  batch: number;
  synchronous: 'full' | 'normal';
  latentReadOut: boolean;
  vectors: string;
  capacity: number;
  cachedStreams: number;
  rssStartMiB: number;
  /** After the first round: every stream exists, the cache is full. */
  rssAfterFirstRoundMiB: number;
  rssEndMiB: number;
  rssMaxMiB: number;
  stateBytesPerStream: number;
  /** Reading one full stream back from the store and decoding it (a cache miss). */
  readBackMsPerStream: number;
  /** Ledger table and its indexes over turns (SQLite dbstat), else null. */
  ledgerBytesPerTurn: number | null;
  databaseBytes: number;
  turnsPerSecond: number;
  seconds: number;
  samples: { turns: number; rssMiB: number; turnsPerSecond: number }[];
}

/** Bytes of each table and index, from SQLite's dbstat table (null if the build lacks it). */
async function tableBytes(path: string): Promise<Map<string, number> | null> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(path, { readonly: true });
  try {
    const rows = db.prepare('SELECT name, sum(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[];
    return new Map(rows.map((r) => [r.name, r.bytes]));
  } catch {
    return null;
  } finally {
    db.close();
  }
}

export async function scaleTest(options: ScaleOptions): Promise<ScaleReport> {
  const store = await SqliteStateStore.open({ path: options.path, synchronous: options.synchronous });
  const evolving = new EvolvingEncoder(new HashEncoder(512), { latent: options.latent, onWarning: () => {} });
  const memory = new EvolvingMemory(evolving, { store });
  const rounds = Math.ceil(options.turnsPerStream / options.batch);
  const samples: ScaleReport['samples'] = [];
  const rssStartMiB = rssMiB();
  let rssMaxMiB = rssStartMiB;
  let rssAfterFirstRoundMiB = rssStartMiB;
  let turns = 0;
  const started = performance.now();
  let last = { t: started, turns: 0 };
  for (let r = 0; r < rounds; r++) {
    const from = r * options.batch;
    const to = Math.min(options.turnsPerStream, from + options.batch);
    for (let s = 0; s < options.streams; s++) {
      const segments = Array.from({ length: to - from }, (_, i) => segmentFor(`s${s}-t${from + i}`));
      await memory.ingest(`s${s}`, segments);
      turns += segments.length;
      if (s % 100 === 99) rssMaxMiB = Math.max(rssMaxMiB, rssMiB());
      if (s % 250 === 249 || s === options.streams - 1) {
        const now = performance.now();
        samples.push({ turns, rssMiB: rssMiB(), turnsPerSecond: (turns - last.turns) / ((now - last.t) / 1000) });
        last = { t: now, turns };
      }
    }
    if (r === 0) rssAfterFirstRoundMiB = rssMiB();
    options.onProgress?.(`scale: round ${r + 1}/${rounds}, ${turns} turns, RSS ${rssMiB().toFixed(0)} MiB, ${samples.at(-1)!.turnsPerSecond.toFixed(0)} turns/s`);
  }
  const seconds = (performance.now() - started) / 1000;
  const rssEndMiB = rssMiB();
  let stateBytes = 0;
  for (let s = 0; s < options.streams; s++) stateBytes += await store.stateBytes(`s${s}`);
  // What a cache miss costs: a stream read back from the store and decoded (every ingest
  // pays it when more streams take turns than the cache holds).
  const cold = new EvolvingMemory(evolving, { store, cachedStreams: 0 });
  const sampled = Math.min(100, options.streams);
  const t = performance.now();
  for (let s = 0; s < sampled; s++) await cold.state(`s${s}`);
  const readBackMs = (performance.now() - t) / sampled;
  await store.close();
  const tables = await tableBytes(options.path);
  const ledgerBytes = tables ? [...tables].filter(([name]) => name.includes('segments')).reduce((n, [, b]) => n + b, 0) : null;
  return {
    streams: options.streams,
    turnsPerStream: options.turnsPerStream,
    batch: options.batch,
    synchronous: options.synchronous,
    latentReadOut: options.latent,
    vectors: 'cheap fixed source (hash-seeded 512-d unit vectors), not the ONNX encoder',
    capacity: evolving.emptyState().queue.capacity,
    cachedStreams: 16,
    rssStartMiB,
    rssAfterFirstRoundMiB,
    rssEndMiB,
    rssMaxMiB: Math.max(rssMaxMiB, rssEndMiB),
    stateBytesPerStream: stateBytes / options.streams,
    readBackMsPerStream: readBackMs,
    ledgerBytesPerTurn: ledgerBytes === null ? null : ledgerBytes / turns,
    databaseBytes: statSync(options.path).size,
    turnsPerSecond: turns / seconds,
    seconds,
    samples,
  };
}

/**
 * What the latent read-out costs per turn with a full queue (512 x 512): one stream in
 * memory, `turns` turns in batches of `batch`, timing the turns after the queue filled.
 */
export async function readOutProbe(turns = 1024, batch = 64): Promise<{ msPerTurnWithReadOut: number; msPerTurnWithout: number; capacity: number }> {
  const time = async (latent: boolean) => {
    const memory = new EvolvingMemory(new EvolvingEncoder(new HashEncoder(512), { latent, onWarning: () => {} }), { store: new MemoryStateStore() });
    const capacity = memory.evolving.emptyState().queue.capacity;
    let t = 0;
    for (let from = 0; from < turns; from += batch) {
      const segments = Array.from({ length: batch }, (_, i) => segmentFor(`p-t${from + i}`));
      const t0 = performance.now();
      await memory.ingest('probe', segments);
      if (from >= capacity) t += performance.now() - t0;
    }
    return { ms: t / (turns - capacity), capacity };
  };
  const on = await time(true);
  const off = await time(false);
  return { msPerTurnWithReadOut: on.ms, msPerTurnWithout: off.ms, capacity: on.capacity };
}

