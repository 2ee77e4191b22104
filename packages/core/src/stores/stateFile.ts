import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { EvomemError } from '../errors.js';
import type { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { MemoryQueue, type LatentMeta } from '../memory/MemoryQueue.js';
import type { Segment } from '../memory/segments.js';
import { StreamState } from '../memory/StreamState.js';
import { fileError, isFileSystemError, writingTo } from '../util/files.js';
import { checkOptions, is } from '../util/options.js';
import type { StateStore } from './StateStore.js';

const MAGIC = Buffer.from('EVOMEMX1', 'ascii');
const enum Kind {
  Stream = 1,
  Slot = 2,
  Ledger = 3,
  End = 0xff,
}
const LEDGER_PAGE = 10_000;

/** What an export or import moved. */
export interface TransferReport {
  streams: number;
  segments: number;
  bytes: number;
}

/**
 * Writes streams (state and ledger) of a store to one file: a backup, or the way to move
 * streams between stores. The file is written record by record, so it has no size limit;
 * a SHA-256 over every byte closes it; it is written under a unique temporary name and
 * renamed into place only when complete, and the temporary file is removed on failure
 * (temporary files of killed exports are removed by the next export to the same path).
 *
 * @example
 * await exportStreams(await openStateStore('sqlite:./evomem.db'), './backup.evomem');
 */
export interface ExportOptions {
  /** The streams to export. @default every stream of the store */
  streams?: readonly string[];
}

export interface ImportOptions {
  /** Overwrite streams the store already has (each in one transaction). @default false: such a file is refused */
  replace?: boolean;
}

export interface LegacyImportOptions {
  /** The stream to create. @default the stream id saved in the file */
  stream?: string;
  /** Write the file's segments with their embeddings here as JSONL, for your vector store; the file must not exist. @default not written */
  vectorsOut?: string;
}

const EXPORT_SPEC = { streams: { expect: 'an array of stream ids (strings)', test: (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === 'string') } };
const IMPORT_SPEC = { replace: is.boolean };
const LEGACY_SPEC = { stream: is.nonEmptyString, vectorsOut: is.nonEmptyString };

export async function exportStreams(store: StateStore, path: string, options: ExportOptions = {}): Promise<TransferReport> {
  checkOptions('exportStreams', options, EXPORT_SPEC);
  await removeStaleTemps(path);
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const report: TransferReport = { streams: 0, segments: 0, bytes: 0 };
  let file: FileHandle;
  try {
    file = await open(tmp, 'wx');
  } catch (error) {
    throw fileError(error, path, 'write the export to');
  }
  const hash = createHash('sha256');
  const write = async (kind: Kind, payload: Uint8Array) => {
    const head = Buffer.alloc(5);
    head.writeUInt8(kind, 0);
    head.writeUInt32LE(payload.byteLength, 1);
    for (const part of [head, payload]) {
      hash.update(part);
      await file.write(part);
      report.bytes += part.byteLength;
    }
  };
  try {
    hash.update(MAGIC);
    await file.write(MAGIC);
    report.bytes += MAGIC.length;
    for (const stream of options.streams ?? (await store.streams())) {
      const stored = await store.read(stream);
      if (!stored) throw new EvomemError('STATE_INVALID', `Stream ${stream} has no state in the ${store.kind} store; nothing to export.`);
      // Decoding checks every row before it is written out. The ledger is read after the
      // state, so ingests that commit meanwhile are cut off at the state's segment count.
      const { turns } = StreamState.decode(`${stream} (${store.kind} store)`, stored.header, stored.slots!);
      const name = Buffer.from(stream);
      const head = Buffer.alloc(4);
      head.writeUInt32LE(name.length);
      await write(Kind.Stream, Buffer.concat([head, name, stored.header]));
      for (const [slot, bytes] of stored.slots!) {
        const index = Buffer.alloc(4);
        index.writeUInt32LE(slot);
        await write(Kind.Slot, Buffer.concat([index, bytes]));
      }
      for (let after = -1; after < turns - 1; ) {
        const page = (await store.segments(stream, { afterSeq: after, limit: LEDGER_PAGE })).filter((e) => e.seq < turns);
        if (page.length === 0) break;
        await write(Kind.Ledger, Buffer.from(JSON.stringify(page.map((e) => [e.id, e.seq]))));
        report.segments += page.length;
        after = page[page.length - 1]!.seq;
      }
      report.streams++;
    }
    // The digest covers every byte before it, the closing record's kind included.
    const end = Buffer.from([Kind.End]);
    hash.update(end);
    await file.write(end);
    const digest = hash.digest();
    await file.write(digest);
    report.bytes += 1 + digest.length;
    await file.sync();
    await file.close();
    await rename(tmp, path);
    return report;
  } catch (error) {
    await file.close().catch(() => {});
    await rm(tmp, { force: true });
    if (error instanceof EvomemError) throw error;
    if (isFileSystemError(error)) throw fileError(error, path, 'write the export to');
    throw new EvomemError('STORE_UNAVAILABLE', `Exporting to ${path} failed: ${(error as Error).message}. Nothing was written there.`, { cause: error });
  }
}

/**
 * Reads a file written by `exportStreams` into a store. The whole file is checked first
 * (its SHA-256, then every stream's rows and ledger, one stream at a time), before anything
 * is written; then each stream goes in with one commit. A stream the store already has is
 * refused, unless `replace`. Memory holds one stream at a time.
 */
export async function importStreams(store: StateStore, path: string, options: ImportOptions = {}): Promise<TransferReport> {
  checkOptions('importStreams', options, IMPORT_SPEC);
  const fail = (why: string, cause?: unknown) =>
    new EvomemError('STATE_INVALID', `${path} ${why}. Nothing was imported; the file was left as it is.`, cause === undefined ? {} : { cause });
  await verifyDigest(path, fail);
  const names: string[] = [];
  for await (const s of streamsIn(path, fail)) names.push(s.name);
  const existing = new Set(await store.streams());
  const clash = names.filter((name) => existing.has(name));
  if (clash.length > 0 && !options.replace) throw fail(`holds streams the ${store.kind} store already has (${clash.slice(0, 5).join(', ')}); pass replace to overwrite them`);
  const report: TransferReport = { streams: 0, segments: 0, bytes: 0 };
  for await (const s of streamsIn(path, fail)) {
    const tx = await store.begin(s.name);
    if (tx.current && !options.replace) {
      await tx.rollback();
      throw new EvomemError('STATE_INVALID', `Stream ${s.name} appeared in the ${store.kind} store during the import of ${path}; ${report.streams} streams before it were imported. Import again with replace, or without that stream.`);
    }
    await tx.commit({ header: s.header, slots: [...s.slots].map(([slot, bytes]) => ({ slot, bytes })), segments: s.ledger, replace: true });
    report.streams++;
    report.segments += s.ledger.length;
  }
  report.bytes = (await stat(path)).size;
  return report;
}

interface FileStream {
  name: string;
  header: Buffer;
  slots: Map<number, Uint8Array>;
  ledger: { id: string; seq: number }[];
}

/** The streams of an export, one at a time, each checked whole: rows, ring, and a ledger of exactly its segments. */
async function* streamsIn(path: string, fail: (why: string, cause?: unknown) => EvomemError): AsyncGenerator<FileStream> {
  const check = (s: FileStream): FileStream => {
    const { turns } = StreamState.decode(`${s.name} in ${path}`, s.header, s.slots);
    if (s.ledger.length !== turns || s.ledger.some((e, i) => e.seq !== i || typeof e.id !== 'string')) throw fail(`holds a ledger for stream ${s.name} that is not its ${turns} segments in order`);
    return s;
  };
  let current: FileStream | undefined;
  for await (const { kind, payload } of records(path, fail)) {
    try {
      if (kind === Kind.Stream) {
        if (current) yield check(current);
        const length = payload.readUInt32LE(0);
        current = { name: payload.toString('utf8', 4, 4 + length), header: payload.subarray(4 + length), slots: new Map(), ledger: [] };
      } else if (kind === Kind.Slot && current) current.slots.set(payload.readUInt32LE(0), payload.subarray(4));
      else if (kind === Kind.Ledger && current) for (const [id, seq] of JSON.parse(payload.toString('utf8')) as [string, number][]) current.ledger.push({ id, seq });
      else throw fail(`has a record of unknown kind ${kind}`);
    } catch (error) {
      throw error instanceof EvomemError ? error : fail(`has a malformed record (${(error as Error).message})`, error);
    }
  }
  if (current) yield check(current);
}

/**
 * Moves a stream file written by evomem 0.1's `MemoryStream.save` into a store: its queue,
 * the tail of its segments and its ledger. Its segments and their embeddings are written
 * as JSONL to `vectorsOut` when given, to load into your vector store; they are not kept
 * in the state store.
 */
export async function importLegacyStream(
  store: StateStore,
  path: string,
  evolving: EvolvingEncoder,
  options: LegacyImportOptions = {},
): Promise<{ stream: string; segments: number }> {
  checkOptions('importLegacyStream', options, LEGACY_SPEC);
  const fail = (why: string, cause?: unknown) => new EvomemError('STATE_INVALID', `${path} ${why}. Nothing was imported; the file was left as it is.`, cause === undefined ? {} : { cause });
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw fail(`cannot be read (${(error as Error).message})`, error);
  }
  if (bytes.length < 12 || bytes.toString('ascii', 0, 8) !== 'EVOMEMQ1') throw fail('is not an evomem 0.1 stream file (EVOMEMQ1)');
  const headerLength = bytes.readUInt32LE(8);
  type Legacy = { version: number; dimensions: number; capacity: number | null; size: number; evicted: number; meta: LatentMeta[]; sha256: string; extra: { format?: string; id: string; segments: Segment[]; embeddings: string; lastTimestamp: string | null } | null };
  let header: Legacy;
  try {
    header = JSON.parse(bytes.toString('utf8', 12, 12 + headerLength)) as Legacy;
  } catch (error) {
    throw fail('has a damaged header', error);
  }
  const payload = bytes.subarray(12 + headerLength);
  if (header.extra?.format !== 'evomem-stream') throw fail('holds a memory queue but no stream');
  if (payload.length !== (header.size + 1) * header.dimensions * 4 || createHash('sha256').update(payload).digest('hex') !== header.sha256) throw fail('fails its checksum (truncated or corrupt)');
  if (header.dimensions !== evolving.encoder.dimensions) throw fail(`holds ${header.dimensions}-d latents, but the encoder gives ${evolving.encoder.dimensions}-d vectors (another model?)`);
  const D = header.dimensions;
  const floats = new Float32Array(new Uint8Array(payload).buffer);
  const queue = new MemoryQueue({ dimensions: D, capacity: header.capacity ?? Infinity });
  queue.restore(
    header.meta.map((meta, i) => ({ vector: floats.subarray(i * D, (i + 1) * D), meta })),
    floats.subarray(header.size * D),
    header.evicted,
  );
  const { segments, lastTimestamp } = header.extra;
  const name = options.stream ?? header.extra.id;
  const tail = evolving.contextTurns > 0 ? segments.slice(-evolving.contextTurns) : [];
  const state = StreamState.from({ model: evolving.encoder.modelId, queue, tail, turns: segments.length, lastTimestamp });
  if (options.vectorsOut) {
    const embeddings = new Float32Array(new Uint8Array(Buffer.from(header.extra.embeddings, 'base64')).buffer);
    if (embeddings.length !== segments.length * D) throw fail(`holds ${segments.length} segments but ${embeddings.length / D} embeddings`);
    const vectorsOut = options.vectorsOut;
    await writingTo(vectorsOut, 'write the vectors to', async () => {
      const out = await open(vectorsOut, 'wx');
      try {
        for (const [i, s] of segments.entries()) await out.write(`${JSON.stringify({ ...s, embedding: Array.from(embeddings.subarray(i * D, (i + 1) * D)) })}\n`);
        await out.sync();
      } finally {
        await out.close();
      }
    });
  }
  const tx = await store.begin(name);
  if (tx.current) {
    await tx.rollback();
    throw fail(`would go into stream ${name}, which the ${store.kind} store already has; pass another stream name`);
  }
  await tx.commit({ header: state.encodeHeader(), slots: state.encodeSlots(0), segments: segments.map((s, seq) => ({ id: s.id, seq })) });
  return { stream: name, segments: segments.length };
}

async function verifyDigest(path: string, fail: (why: string, cause?: unknown) => EvomemError): Promise<void> {
  const hash = createHash('sha256');
  let tail = Buffer.alloc(0);
  let total = 0;
  try {
    for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
      total += chunk.length;
      // Everything but the last 32 bytes (the digest) is hashed.
      const joined = Buffer.concat([tail, chunk]);
      const cut = Math.max(0, joined.length - 32);
      hash.update(joined.subarray(0, cut));
      tail = joined.subarray(cut);
    }
  } catch (error) {
    throw fail(`cannot be read (${(error as Error).message})`, error);
  }
  if (total < MAGIC.length + 33) throw fail('is not an evomem export (too short)');
  if (!hash.digest().equals(tail)) throw fail('fails its SHA-256 (truncated or corrupt)');
}

async function* records(path: string, fail: (why: string) => EvomemError): AsyncGenerator<{ kind: number; payload: Buffer }> {
  let buffered = Buffer.alloc(0);
  let started = false;
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
    buffered = Buffer.concat([buffered, chunk]);
    if (!started) {
      if (buffered.length < MAGIC.length) continue;
      if (!buffered.subarray(0, MAGIC.length).equals(MAGIC)) throw fail('is not an evomem export (EVOMEMX1)');
      buffered = buffered.subarray(MAGIC.length);
      started = true;
    }
    while (buffered.length >= 5 && buffered[0] !== Kind.End) {
      const length = buffered.readUInt32LE(1);
      if (buffered.length < 5 + length) break;
      yield { kind: buffered[0]!, payload: buffered.subarray(5, 5 + length) };
      buffered = buffered.subarray(5 + length);
    }
  }
  if (buffered.length !== 33 || buffered[0] !== Kind.End) throw fail('ends without its closing record (truncated?)');
}

/** Removes temporary files of exports to `path` whose process is gone (killed mid-write). */
async function removeStaleTemps(path: string): Promise<void> {
  const prefix = `${basename(path)}.`;
  const entries = await readdir(dirname(path)).catch(() => [] as string[]);
  for (const entry of entries) {
    const match = entry.startsWith(prefix) ? /^(\d+)\.[0-9a-f]{8}\.tmp$/.exec(entry.slice(prefix.length)) : null;
    if (match && !alive(Number(match[1]))) await rm(join(dirname(path), entry), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}
