// Kill test: a child ingests into a store and is killed with SIGKILL at random moments,
// some of them timed on its "about to commit" marker. After each kill the parent opens the
// store afresh and checks that every acknowledged segment is in the ledger and that every
// stream's state loads and agrees with its ledger.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EvolvingEncoder, EvolvingMemory, openStateStore, type LedgerEntry, type SegmentEncoder } from '@evomem/core';
import { benchRoot } from './shared.js';
import { rng } from './memoryShared.js';

export interface KillOptions {
  /** `sqlite:PATH` or a postgres URL, fresh. */
  store: string;
  kills: number;
  /** The model folder the child loads (`hash` for the cheap source). */
  model: string;
  /** The same encoder in the parent, to decode states. */
  encoder: SegmentEncoder;
  /** Small, so the ring of queue slots wraps many times. */
  capacity: number;
  streams: number;
  ackFile: string;
  seed: number;
  onProgress?: (done: number) => void;
}

export interface KillReport {
  kills: number;
  acknowledgedLost: number;
  unreadable: number;
  /** Acknowledged ingests, segments, over all runs. */
  acknowledgedIngests: number;
  acknowledgedSegments: number;
  /** Segments in the ledger at the end. */
  ledgerSegments: number;
  /** How the kills were timed: while starting, at a random time, or on the commit marker. */
  timing: { startup: number; random: number; onCommitMarker: number };
  /** Kills between the commit marker and the acknowledgement: the batch was committed (allowed: not yet acknowledged) or not. */
  inCommitWindow: { committed: number; rolledBack: number };
  /** Runs that died of something other than the kill (must be 0). */
  childErrors: number;
  checkFailures: string[];
}

type Timing = keyof KillReport['timing'];

/** One child run, killed as `timing` says; resolves with the markers it printed. */
function runAndKill(options: KillOptions, run: number, timing: Timing, next: () => number): Promise<{ commits: number; acks: number; stderr: string; signal: string | null }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(benchRoot, 'src/memoryChild.ts'), 'kill', '--store', options.store, '--model', options.model, '--ack', options.ackFile, '--run', String(run), '--streams', String(options.streams), '--capacity', String(options.capacity)],
    { cwd: benchRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let commits = 0;
  let acks = 0;
  let stderr = '';
  let armed = false;
  const kill = () => child.kill('SIGKILL');
  const commitTarget = 1 + Math.floor(next() * 30);
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const l of lines) {
      if (l === 'ready' && timing === 'random') setTimeout(kill, next() * 400);
      if (l === 'C') {
        commits++;
        // Within a few milliseconds of the marker: inside the commit, or just after it.
        if (timing === 'onCommitMarker' && commits === commitTarget && !armed) {
          armed = true;
          const delay = next() * 3;
          if (delay < 0.5) kill();
          else setTimeout(kill, delay);
        }
      }
      if (l === 'A') acks++;
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (timing === 'startup') setTimeout(kill, next() * 900);
  // A run that never reaches its target (slow machine) is still killed.
  const guard = setTimeout(kill, 15_000);
  return new Promise((resolve) => {
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      resolve({ commits, acks, stderr, signal });
    });
  });
}

async function ledgerOf(store: Awaited<ReturnType<typeof openStateStore>>, stream: string): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = [];
  for (;;) {
    const page = await store.segments(stream, { afterSeq: out.at(-1)?.seq ?? -1, limit: 5000 });
    out.push(...page);
    if (page.length < 5000) return out;
  }
}

/** Opens the store afresh and checks it against the acknowledgements so far. */
async function check(options: KillOptions): Promise<{ lost: string[]; unreadable: string[]; ledger: Map<string, Set<string>>; acked: { stream: string; ids: string[] }[] }> {
  const acked = readFileSync(options.ackFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { stream: string; ids: string[] }];
      } catch {
        return []; // a line cut by the kill: that ingest's acknowledgement was not finished
      }
    });
  const store = await openStateStore(options.store);
  const memory = new EvolvingMemory(new EvolvingEncoder(options.encoder, { capacity: options.capacity, onWarning: () => {} }), { store });
  const unreadable: string[] = [];
  const ledger = new Map<string, Set<string>>();
  try {
    for (const stream of await store.streams()) {
      const entries = await ledgerOf(store, stream);
      ledger.set(stream, new Set(entries.map((e) => e.id)));
      const why = (() => {
        if (entries.some((e, i) => e.seq !== i)) return 'ledger seqs are not 0..n-1';
        if (new Set(entries.map((e) => e.id)).size !== entries.length) return 'ledger holds an id twice';
        return null;
      })();
      if (why) {
        unreadable.push(`${stream}: ${why}`);
        continue;
      }
      try {
        const state = await memory.state(stream);
        if (!state) throw new Error('no state although the ledger has segments');
        if (state.turns !== entries.length) throw new Error(`state has ${state.turns} turns, ledger ${entries.length}`);
        const queueIds = [...state.queue.entries()].map((e) => e.meta.segmentId);
        const expected = entries.slice(entries.length - queueIds.length).map((e) => e.id);
        if (queueIds.length !== Math.min(options.capacity, entries.length) || queueIds.some((id, i) => id !== expected[i])) throw new Error('queue ids differ from the last ledger ids');
      } catch (error) {
        unreadable.push(`${stream}: ${(error as Error).message}`);
      }
    }
  } finally {
    await store.close();
  }
  const lost = acked.flatMap((a) => a.ids.filter((id) => !ledger.get(a.stream)?.has(id)).map((id) => `${a.stream}/${id}`));
  return { lost, unreadable, ledger, acked };
}

export async function killTest(options: KillOptions): Promise<KillReport> {
  writeFileSync(options.ackFile, '');
  const next = rng(options.seed);
  const report: KillReport = {
    kills: 0,
    acknowledgedLost: 0,
    unreadable: 0,
    acknowledgedIngests: 0,
    acknowledgedSegments: 0,
    ledgerSegments: 0,
    timing: { startup: 0, random: 0, onCommitMarker: 0 },
    inCommitWindow: { committed: 0, rolledBack: 0 },
    childErrors: 0,
    checkFailures: [],
  };
  const lost = new Set<string>();
  for (let run = 0; run < options.kills; run++) {
    const roll = next();
    const timing: Timing = roll < 0.1 ? 'startup' : roll < 0.55 ? 'random' : 'onCommitMarker';
    const result = await runAndKill(options, run, timing, next);
    if (result.signal !== 'SIGKILL') {
      report.childErrors++;
      report.checkFailures.push(`run ${run} ended without the kill (${result.signal}): ${result.stderr.trim().split('\n').slice(-3).join(' | ')}`);
      continue;
    }
    report.kills++;
    report.timing[timing]++;
    const { lost: lostNow, unreadable, ledger, acked } = await check(options);
    for (const id of lostNow) lost.add(id);
    report.unreadable += unreadable.length;
    report.checkFailures.push(...unreadable.map((u) => `after kill ${run}: ${u}`), ...lostNow.map((id) => `after kill ${run}: acknowledged ${id} is not in the ledger`));
    if (result.commits > result.acks) {
      // The batch in flight was number `acks` of this run: find whether it was committed.
      const first = `r${run}-${result.acks}-0`;
      if ([...ledger.values()].some((ids) => ids.has(first))) report.inCommitWindow.committed++;
      else report.inCommitWindow.rolledBack++;
    }
    report.acknowledgedIngests = acked.length;
    report.acknowledgedSegments = acked.reduce((n, a) => n + a.ids.length, 0);
    report.ledgerSegments = [...ledger.values()].reduce((n, s) => n + s.size, 0);
    options.onProgress?.(run + 1);
  }
  report.acknowledgedLost = lost.size;
  report.checkFailures = report.checkFailures.slice(0, 20);
  return report;
}
