// Concurrency test: several processes ingest into the same streams of one PostgreSQL
// store, some batches with the same ids in every process. Then the committed order is
// replayed in one process from the ledger alone (one ledger version = one original
// ingest) into a fresh in-memory store, and the embeddings are compared with those each
// process was acknowledged.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EvolvingEncoder, EvolvingMemory, MemoryStateStore, openStateStore, type LedgerEntry, type SegmentEncoder } from '@evomem/core';
import { benchRoot } from './shared.js';
import { segmentFor } from './memoryShared.js';

export interface ConcurrencyOptions {
  url: string;
  processes: number;
  streams: number;
  rounds: number;
  /** Every `shareEvery`-th round, every process ingests the same ids. */
  shareEvery: number;
  /** What the children load: `default` or a model folder. */
  model: string;
  /** The same model in this process, for the replay. */
  encoder: SegmentEncoder;
  workDir: string;
}

export interface ConcurrencyReport {
  processes: number;
  /** Segments acknowledged, all processes together. */
  turns: number;
  ingests: number;
  /** Ids acknowledged to more than one ingest. */
  duplicates: number;
  /** Acknowledged ids missing from the ledger. */
  lost: number;
  /** Largest |acknowledged - replayed| over every coordinate of every embedding. */
  maxAbsDiff: number;
  /** Batches whose ids every process tried: won by exactly one, the others refused with SEGMENT_DUPLICATE. */
  collisions: { batches: number; wonByExactlyOne: number; duplicateErrors: number };
  /** Acknowledged ingests whose ids, firstSeq and version are one ledger version exactly. */
  ingestsMatchingLedger: number;
  /** Consecutive commits to a stream by different processes: how much the processes interleaved. */
  processSwitches: number;
  /** Ledger ids that no process was acknowledged (0 without kills). */
  unacknowledgedInLedger: number;
  seconds: number;
}

interface Ack {
  proc: string;
  stream: string;
  ids: string[];
  version: number;
  firstSeq: number;
  embeddings: string[];
}

function runChildren(options: ConcurrencyOptions): Promise<number> {
  const children = Array.from({ length: options.processes }, (_, p) =>
    spawn(
      process.execPath,
      ['--import', 'tsx', join(benchRoot, 'src/memoryChild.ts'), 'concurrent', '--store', options.url, '--model', options.model, '--ack', join(options.workDir, `p${p}.jsonl`), '--run', `p${p}`, '--streams', String(options.streams), '--rounds', String(options.rounds), '--shareEvery', String(options.shareEvery)],
      { cwd: benchRoot, stdio: ['pipe', 'pipe', 'pipe'] },
    ),
  );
  let ready = 0;
  let duplicateErrors = 0;
  const done = children.map(
    (child, p) =>
      new Promise<void>((resolve, reject) => {
        let out = '';
        let err = '';
        child.stdout!.on('data', (chunk: Buffer) => {
          const first = !out.includes('ready\n');
          out += chunk.toString();
          if (first && out.includes('ready\n') && ++ready === children.length) for (const c of children) c.stdin!.end('g');
        });
        child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
        child.on('close', (code) => {
          if (code !== 0) return reject(new Error(`concurrency child p${p} exited with ${code}: ${err.trim().split('\n').slice(-5).join(' | ')}`));
          duplicateErrors += (JSON.parse(out.trim().split('\n').at(-1)!) as { duplicateErrors: number }).duplicateErrors;
          resolve();
        });
      }),
  );
  return Promise.all(done).then(() => duplicateErrors);
}

export async function concurrencyTest(options: ConcurrencyOptions): Promise<ConcurrencyReport> {
  const started = performance.now();
  for (let p = 0; p < options.processes; p++) writeFileSync(join(options.workDir, `p${p}.jsonl`), '');
  const duplicateErrors = await runChildren(options);
  const acks = Array.from({ length: options.processes }, (_, p) => readFileSync(join(options.workDir, `p${p}.jsonl`), 'utf8'))
    .flatMap((text) => text.split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as Ack);

  // Acknowledged embeddings by stream and id; an id acknowledged twice is a duplicate.
  const acked = new Map<string, Float32Array>();
  let duplicates = 0;
  for (const a of acks) {
    a.ids.forEach((id, i) => {
      const key = `${a.stream}/${id}`;
      if (acked.has(key)) duplicates++;
      const bytes = Buffer.from(a.embeddings[i]!, 'base64');
      acked.set(key, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    });
  }

  const store = await openStateStore(options.url);
  const ledgers = new Map<string, LedgerEntry[]>();
  try {
    for (const stream of await store.streams()) ledgers.set(stream, await store.segments(stream));
  } finally {
    await store.close();
  }
  const inLedger = new Set([...ledgers].flatMap(([stream, entries]) => entries.map((e) => `${stream}/${e.id}`)));
  const lost = [...acked.keys()].filter((k) => !inLedger.has(k)).length;
  const unacknowledgedInLedger = [...inLedger].filter((k) => !acked.has(k)).length;
  const ingestsMatchingLedger = acks.filter((a) => {
    const entries = ledgers.get(a.stream)?.slice(a.firstSeq, a.firstSeq + a.ids.length) ?? [];
    return entries.length === a.ids.length && entries.every((e, i) => e.id === a.ids[i] && e.version === a.version);
  }).length;

  const committer = new Map(acks.map((a) => [`${a.stream}/${a.version}`, a.proc]));
  let processSwitches = 0;
  for (const [stream, entries] of ledgers) {
    const versions = [...new Set(entries.map((e) => e.version))];
    for (let v = 1; v < versions.length; v++) if (committer.get(`${stream}/${versions[v]}`) !== committer.get(`${stream}/${versions[v - 1]}`)) processSwitches++;
  }

  // Shared batches: the same ids in every process, so exactly one ack each.
  const sharedBatches = new Map<string, number>();
  for (const a of acks) if (a.ids[0]!.startsWith('x-')) sharedBatches.set(`${a.stream}/${a.ids[0]}`, (sharedBatches.get(`${a.stream}/${a.ids[0]}`) ?? 0) + 1);
  const expectedShared = Math.floor(options.rounds / options.shareEvery) * options.streams;

  // The replay: per stream, each ledger version is one ingest, in seq order.
  const replay = new EvolvingMemory(new EvolvingEncoder(options.encoder, { onWarning: () => {} }), { store: new MemoryStateStore() });
  let maxAbsDiff = 0;
  for (const [stream, entries] of ledgers) {
    for (let i = 0; i < entries.length; ) {
      let j = i;
      while (j < entries.length && entries[j]!.version === entries[i]!.version) j++;
      const ids = entries.slice(i, j).map((e) => e.id);
      const { embeddings } = await replay.ingest(stream, ids.map(segmentFor));
      ids.forEach((id, k) => {
        const original = acked.get(`${stream}/${id}`);
        if (!original) return;
        for (let d = 0; d < original.length; d++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(original[d]! - embeddings[k]![d]!));
      });
      i = j;
    }
  }
  return {
    processes: options.processes,
    turns: acked.size + duplicates,
    ingests: acks.length,
    duplicates,
    lost,
    maxAbsDiff,
    collisions: { batches: expectedShared, wonByExactlyOne: [...sharedBatches.values()].filter((n) => n === 1).length, duplicateErrors },
    ingestsMatchingLedger,
    processSwitches,
    unacknowledgedInLedger,
    seconds: (performance.now() - started) / 1000,
  };
}
