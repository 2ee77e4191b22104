// A child process of the memory benchmark: ingests into a shared store until it is killed
// (`kill`), or runs a fixed plan of ingests and records what it was acknowledged
// (`concurrent`). Every acknowledgement is written with one synchronous write after
// `ingest` resolved, so a line on disk means the ingest was acknowledged.
import { closeSync, openSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Encoder, EvolvingEncoder, EvolvingMemory, EvomemError, openStateStore, type SegmentEncoder } from '@evomem/core';
import { HashEncoder, rng, segmentFor } from './memoryShared.js';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    store: { type: 'string' },
    model: { type: 'string', default: 'hash' },
    ack: { type: 'string' },
    run: { type: 'string', default: '0' },
    streams: { type: 'string', default: '6' },
    capacity: { type: 'string', default: '512' },
    rounds: { type: 'string', default: '10' },
    shareEvery: { type: 'string', default: '3' },
  },
});
const mode = positionals[0];

/** `hash`: the cheap source; `default`: the default model; else a model folder. */
async function loadEncoder(model: string): Promise<SegmentEncoder> {
  if (model === 'hash') return new HashEncoder(512);
  return Encoder.load({ ...(model === 'default' ? {} : { model }), device: 'cpu', threads: 1 });
}

function line(fd: number, text: string): void {
  writeSync(fd, `${text}\n`);
}

const encoder = await loadEncoder(args.model!);
const store = await openStateStore(args.store!);
const memory = new EvolvingMemory(new EvolvingEncoder(encoder, { capacity: Number(args.capacity), onWarning: () => {} }), { store });
const ack = openSync(args.ack!, 'a');
const streams = Number(args.streams);

if (mode === 'kill') {
  // Runs until killed: random streams, batches of 1 to 8 segments. The parent reads `C`
  // (about to commit) and `A` (acknowledged) on stdout to time some of its kills.
  const run = Number(args.run);
  const next = rng(run + 1);
  line(1, 'ready');
  for (let n = 0; ; n++) {
    const stream = `s${Math.floor(next() * streams)}`;
    const ids = Array.from({ length: 1 + Math.floor(next() * 8) }, (_, i) => `r${run}-${n}-${i}`);
    await memory.ingest(stream, ids.map(segmentFor), { beforeCommit: async () => line(1, 'C') });
    line(ack, JSON.stringify({ stream, ids }));
    line(1, 'A');
  }
} else if (mode === 'concurrent') {
  // A fixed plan shared by every process: each round, one batch per stream. Every
  // `shareEvery`-th round the batch's ids are the same in every process (exactly one must
  // win); otherwise they are this process's own.
  const proc = args.run!;
  const rounds = Number(args.rounds);
  const shareEvery = Number(args.shareEvery);
  line(1, 'ready');
  // Wait for the parent's go, so that the processes start their plans together.
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.destroy();
  let duplicates = 0;
  for (let r = 0; r < rounds; r++) {
    const shared = r % shareEvery === shareEvery - 1;
    const order = Array.from({ length: streams }, (_, s) => s);
    // Each process walks the streams in its own order, so some collisions race head on.
    const shuffle = rng(Number(proc.replace(/\D/g, '')) * 1000 + r);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(shuffle() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (const s of order) {
      const size = 2 + ((r + s) % 4);
      const ids = Array.from({ length: size }, (_, k) => (shared ? `x-s${s}-r${r}-${k}` : `${proc}-s${s}-r${r}-${k}`));
      try {
        const result = await memory.ingest(`s${s}`, ids.map(segmentFor));
        const embeddings = result.embeddings.map((e) => Buffer.from(e.buffer, e.byteOffset, e.byteLength).toString('base64'));
        line(ack, JSON.stringify({ proc, stream: `s${s}`, ids, version: result.version, firstSeq: result.firstSeq, embeddings }));
      } catch (error) {
        if (!(error instanceof EvomemError && error.code === 'SEGMENT_DUPLICATE' && shared)) throw error;
        duplicates++;
      }
    }
  }
  line(1, JSON.stringify({ duplicateErrors: duplicates }));
  closeSync(ack);
  await store.close();
  process.exit(0);
} else {
  console.error(`memoryChild: unknown mode ${mode}; use kill or concurrent.`);
  process.exit(2);
}
