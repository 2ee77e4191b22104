import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { EvolvingMemory } from '../memory/EvolvingMemory.js';
import type { Segment } from '../memory/segments.js';
import { StreamState } from '../memory/StreamState.js';
import { turnOf } from './fixtures/turns.mjs';
import type { LedgerEntry, StateStore } from './StateStore.js';

/** How a suite opens the store under test: a fresh one, another handle on the same data, and its URL for child processes (null: in-process only). */
export interface StoreHarness {
  open(): Promise<{ store: StateStore; url: string | null; reopen(): Promise<StateStore> }>;
}

const CHILD = fileURLToPath(new URL('./fixtures/ingestChild.mjs', import.meta.url));
const turn = (id: string, session = '1'): Segment => ({ ...turnOf(id), speaker: 'Maya', session });

/**
 * The contract every state store passes (like unstorage's driver suite): atomic commits,
 * the ledger, serialized or conflict-checked writers, ingests that equal a sequential run
 * whatever the interleaving, and, for stores other processes can reach, kills.
 */
export function stateStoreContract(name: string, harness: StoreHarness): void {
  describe(`${name} state store (contract)`, () => {
    let model: { dir: string; cleanup: () => Promise<void> };
    let encoder: Encoder;
    const evolving = () => new EvolvingEncoder(encoder, { capacity: 8, onWarning: () => {} });
    beforeAll(async () => {
      model = await tinyModel({ modelMaxLength: 128 });
      encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
    });
    afterAll(async () => {
      await encoder?.dispose();
      await model?.cleanup();
    });

    it('commits a change whole, reads it back, and skips slots the caller has', async () => {
      const { store } = await harness.open();
      const tx = await store.begin('a');
      expect(tx.current).toBeNull();
      await tx.commit({ header: Uint8Array.of(1), slots: [{ slot: 0, bytes: Uint8Array.of(2) }, { slot: 1, bytes: Uint8Array.of(3) }], segments: [{ id: 'x', seq: 0 }, { id: 'y', seq: 1 }] });
      const stored = await store.read('a');
      expect(stored?.version).toBe(1);
      expect(Buffer.from(stored!.header)).toEqual(Buffer.of(1));
      expect([...stored!.slots!].map(([k, v]) => [k, [...v]])).toEqual([[0, [2]], [1, [3]]]);
      expect((await store.read('a', 1))?.slots).toBeNull();
      expect(await store.segments('a')).toEqual([{ id: 'x', seq: 0, version: 1 }, { id: 'y', seq: 1, version: 1 }]);
      expect(await store.segments('a', { afterSeq: 0, limit: 5 })).toEqual([{ id: 'y', seq: 1, version: 1 }]);
      expect(await store.stateBytes('a')).toBe(3);
      const next = await store.begin('a', 1);
      expect(next.current?.slots).toBeNull();
      expect(await next.existing(['y', 'z'])).toEqual(['y']);
      await next.rollback();
      expect(await store.streams()).toEqual(['a']);
      expect(await store.delete('a')).toBe(true);
      expect(await store.read('a')).toBeNull();
      expect(await store.segments('a')).toEqual([]);
      await store.close();
    });

    it('leaves no trace of a rolled-back or failed ingest', async () => {
      const { store } = await harness.open();
      const memory = new EvolvingMemory(evolving(), { store });
      await memory.ingest('maya', [turn('t1'), turn('t2')]);
      const before = await store.read('maya');
      const failing = memory.ingest('maya', [turn('t3')], {
        beforeCommit: async () => {
          throw new Error('the vector store is down');
        },
      });
      await expect(failing).rejects.toThrow('the vector store is down');
      expect(await store.read('maya')).toEqual(before);
      expect((await store.segments('maya')).map((e) => e.id)).toEqual(['t1', 't2']);
      // The next ingest continues from the committed state, as if the failed one never ran.
      const after = await memory.ingest('maya', [turn('t3')]);
      const reference = await new EvolvingMemory(evolving()).ingest('maya', [turn('t1'), turn('t2'), turn('t3')]);
      expect(Array.from(after.embeddings[0]!)).toEqual(Array.from(reference.embeddings[2]!));
      await store.close();
    });

    it('continues a stream after a restart exactly as if it had never stopped', async () => {
      const { store, reopen } = await harness.open();
      const turns = Array.from({ length: 14 }, (_, i) => turn(`r${i}`, String(i >> 2)));
      const first = await new EvolvingMemory(evolving(), { store }).ingest('u', turns.slice(0, 9));
      await store.close();
      const again = await reopen();
      const second = await new EvolvingMemory(evolving(), { store: again }).ingest('u', turns.slice(9));
      const reference = await new EvolvingMemory(evolving()).ingest('u', turns);
      expect([...first.embeddings, ...second.embeddings].map((e) => Array.from(e))).toEqual(reference.embeddings.map((e) => Array.from(e)));
      const state = StreamState.decode('u', (await again.read('u'))!.header, (await again.read('u'))!.slots!);
      expect(state.turns).toBe(14);
      expect(state.queue.size).toBe(8);
      expect(await again.stateBytes('u')).toBeGreaterThan(0);
      await again.close();
    });

    it('refuses an id the stream already holds, and changes nothing', async () => {
      const { store } = await harness.open();
      const memory = new EvolvingMemory(evolving(), { store });
      await memory.ingest('d', [turn('t1')]);
      await expect(memory.ingest('d', [turn('t2'), turn('t1')])).rejects.toMatchObject({ code: 'SEGMENT_DUPLICATE', message: expect.stringContaining('"t1"') });
      expect((await store.segments('d')).map((e) => e.id)).toEqual(['t1']);
      await store.close();
    });

    it('gives concurrent ingests from two handles exactly the embeddings of a sequential run', async () => {
      const { store, reopen } = await harness.open();
      const other = await reopen();
      const a = new EvolvingMemory(evolving(), { store });
      const b = new EvolvingMemory(evolving(), { store: other });
      const acks = new Map<string, number[]>();
      const run = async (memory: EvolvingMemory, who: string) => {
        for (let i = 0; i < 6; i++) {
          const segs = [turn(`${who}${i}a`, String(i)), turn(`${who}${i}b`, String(i))];
          const out = await memory.ingest('shared', segs);
          segs.forEach((s, j) => acks.set(s.id, Array.from(out.embeddings[j]!)));
        }
      };
      await Promise.all([run(a, 'p'), run(b, 'q'), run(a, 'r')]);
      const ledger = await store.segments('shared');
      expect(ledger).toHaveLength(36);
      expect(new Set(ledger.map((e) => e.id)).size).toBe(36);
      expect(ledger.map((e) => e.seq)).toEqual(ledger.map((_, i) => i));
      // Replay the committed order, one commit at a time, in a fresh memory.
      await replayLedger(new EvolvingMemory(evolving()), 'shared', ledger, (id) => turn(id, id.slice(1, -1)), acks, 1e-5);
      await store.close();
      await other.close();
    });

    it('lets exactly one of two concurrent writers take an id', async () => {
      const { store, reopen } = await harness.open();
      const other = await reopen();
      const results = await Promise.allSettled([
        new EvolvingMemory(evolving(), { store }).ingest('race', [turn('same')]),
        new EvolvingMemory(evolving(), { store: other }).ingest('race', [turn('same')]),
      ]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'SEGMENT_DUPLICATE' } });
      expect(await store.segments('race')).toHaveLength(1);
      await store.close();
      await other.close();
    });

    it('finds a damaged row when the state is read, naming the stream', async () => {
      const { store } = await harness.open();
      const memory = new EvolvingMemory(evolving(), { store, cachedStreams: 0 });
      await memory.ingest('bad', [turn('t1'), turn('t2')]);
      const stored = (await store.read('bad'))!;
      const slot = Buffer.from(stored.slots!.get(1)!);
      slot[20] = slot[20]! ^ 0x01;
      const tx = await store.begin('bad');
      await tx.commit({ header: stored.header, slots: [{ slot: 1, bytes: slot }], segments: [] });
      await expect(memory.state('bad')).rejects.toMatchObject({ code: 'STATE_INVALID', message: expect.stringMatching(/Stream state bad .*damaged queue slot 1/) });
      await expect(memory.ingest('bad', [turn('t3')])).rejects.toMatchObject({ code: 'STATE_INVALID' });
      await store.close();
    });

    it('survives child processes killed at random moments: every acknowledged ingest is there, every state loads', async (context) => {
      const { store, url } = await harness.open();
      if (url === null) {
        context.skip('an in-process store: no other process can reach it');
        return;
      }
      const acked = new Set<string>();
      for (let round = 0; round < 6; round++) {
        // Random moments, mid-commit among them: the child ingests without pause until killed.
        const { lines, signal } = await runChild(url, model.dir, `w${round}`, 4000, { killAfterMs: 30 + Math.random() * 400 });
        expect(signal).toBe('SIGKILL');
        for (const l of lines) if (l.embeddings) for (const id of l.ids) acked.add(id);
      }
      const memory = new EvolvingMemory(evolving(), { store, cachedStreams: 0 });
      const ledgerIds = new Set<string>();
      for (const stream of await store.streams()) {
        const ledger = await store.segments(stream);
        ledger.forEach((e) => ledgerIds.add(e.id));
        const state = (await memory.state(stream))!;
        expect(state.turns).toBe(ledger.length);
        expect([...state.queue.entries()].map((e) => e.meta.segmentId)).toEqual(ledger.slice(-8).map((e) => e.id));
      }
      expect([...acked].filter((id) => !ledgerIds.has(id))).toEqual([]);
      expect(acked.size).toBeGreaterThan(0);
      await store.close();
    });

    it('serializes two processes on the same streams: no lost or duplicated turn, embeddings of a sequential run', async (context) => {
      const { store, url } = await harness.open();
      if (url === null) {
        context.skip('an in-process store: no other process can reach it');
        return;
      }
      const gate = deferred();
      const [a, b] = [runChild(url, model.dir, 'a', 40, { gate: gate.promise }), runChild(url, model.dir, 'b', 40, { gate: gate.promise })];
      await Promise.all([a.ready, b.ready]);
      gate.resolve();
      const runs = await Promise.all([a, b]);
      const acks = new Map<string, number[]>();
      let duplicates = 0;
      for (const line of runs.flatMap((r) => r.lines)) {
        if (!line.embeddings) {
          expect(line.error).toBe('SEGMENT_DUPLICATE');
          continue;
        }
        line.ids.forEach((id, j) => {
          if (acks.has(id)) duplicates++;
          acks.set(id, line.embeddings![j]!);
        });
      }
      expect(duplicates).toBe(0);
      const replay = new EvolvingMemory(evolving());
      let compared = 0;
      let switches = 0;
      for (const stream of await store.streams()) {
        const ledger = await store.segments(stream);
        const writers = ledger.map((e) => e.id.split('-')[0]).filter((w) => w !== 'shared');
        switches += writers.filter((w, i) => i > 0 && w !== writers[i - 1]).length;
        compared += await replayLedger(replay, stream, ledger, turnOf, acks, 1e-4);
      }
      // Every acknowledged id is in a ledger, and nothing else is; and the two really interleaved.
      expect(compared).toBe(acks.size);
      expect(switches).toBeGreaterThan(0);
      await store.close();
    });
  });
}

/**
 * Replays a stream's committed order into `replay`, one commit (ledger version) at a time,
 * and checks each embedding against the one its writer was acknowledged; returns how many.
 */
async function replayLedger(
  replay: EvolvingMemory,
  stream: string,
  ledger: readonly LedgerEntry[],
  segmentOf: (id: string) => Segment,
  acks: ReadonlyMap<string, ArrayLike<number>>,
  tolerance: number,
): Promise<number> {
  for (const version of new Set(ledger.map((e) => e.version))) {
    const batch = ledger.filter((e) => e.version === version);
    const out = await replay.ingest(stream, batch.map((e) => segmentOf(e.id)));
    batch.forEach((e, j) => {
      const acked = acks.get(e.id)!;
      out.embeddings[j]!.forEach((v, d) => expect(Math.abs(v - acked[d]!)).toBeLessThan(tolerance));
    });
  }
  return ledger.length;
}

interface ChildLine {
  stream: string;
  ids: string[];
  embeddings?: number[][];
  error?: string;
}

/**
 * Runs `fixtures/ingestChild.mjs`: with `killAfterMs`, SIGKILLs it that long after its first
 * ingest returned (timed from there, not from its start, so that a slow, loaded machine still
 * kills it mid-run rather than before anything committed); with `gate`, it starts ingesting
 * once the gate opens. `ready` resolves when it is ready.
 */
function runChild(
  url: string,
  modelDir: string,
  worker: string,
  batches: number,
  options: { killAfterMs?: number; gate?: Promise<void> } = {},
): Promise<{ lines: ChildLine[]; signal: NodeJS.Signals | null }> & { ready: Promise<void> } {
  const ready = deferred();
  const done = new Promise<{ lines: ChildLine[]; signal: NodeJS.Signals | null }>((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, url, modelDir, worker, '3', String(batches), options.gate ? 'gate' : ''], { stdio: ['pipe', 'pipe', 'pipe'] });
    const lines: ChildLine[] = [];
    let buffered = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = JSON.parse(buffered.slice(0, nl)) as ChildLine & { ready?: boolean };
        buffered = buffered.slice(nl + 1);
        if (line.ready) {
          ready.resolve();
          void options.gate?.then(() => child.stdin.write('go\n'));
          continue;
        }
        if (lines.length === 0 && options.killAfterMs !== undefined) setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
        lines.push(line);
      }
    });
    child.on('exit', (code, signal) => {
      ready.resolve();
      if (code === 0 || signal === 'SIGKILL') resolve({ lines, signal });
      else reject(new Error(`ingest child ${worker} exited with ${code ?? signal}: ${stderr}`));
    });
  });
  return Object.assign(done, { ready: ready.promise });
}

/** A promise and its resolve (Node 20 has no Promise.withResolvers). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
