import { open } from 'node:fs/promises';
import { Encoder, EvolvingEncoder, EvomemError, exportStreams, importLegacyStream, importStreams, openStateStore, StreamState, type EncoderOptions, type StateStore } from '@evomem/core';
import { table } from './progress.js';
import { inputFile, outputFile } from './userErrors.js';

export interface StateFlags {
  store: string;
}

async function withStore<T>(where: string, fn: (store: StateStore) => Promise<T>): Promise<T> {
  const store = await openStateStore(where);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** `list` and `export` only read, so a SQLite path that does not exist is a typo, not a store to create. */
async function existingStore(where: string): Promise<void> {
  const path = where.startsWith('sqlite:') ? where.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '') : /\.(db|sqlite3?)$/i.test(where) && !where.includes('://') ? where : undefined;
  if (path && path !== ':memory:') await inputFile(path, '--store');
}

/** `evomem state list`: every stream of a store, with its segment count and state size. */
export async function runStateList(flags: StateFlags): Promise<void> {
  await existingStore(flags.store);
  await withStore(flags.store, async (store) => {
    const rows: string[][] = [];
    for (const stream of await store.streams()) {
      const stored = await store.read(stream);
      if (!stored) continue;
      rows.push([stream, String(StreamState.peek(`${stream} (${store.kind} store)`, stored.header).turns), String(await store.stateBytes(stream))]);
    }
    console.log(table(['stream', 'segments', 'state bytes'], rows));
  });
}

/** `evomem state export`: streams of a store to one checked file. */
export async function runStateExport(flags: StateFlags & { out: string; stream?: string[] }): Promise<void> {
  await existingStore(flags.store);
  await outputFile(flags.out, '--out');
  const report = await withStore(flags.store, (store) => exportStreams(store, flags.out, flags.stream ? { streams: flags.stream } : {}));
  console.error(`exported ${report.streams} streams (${report.segments} segments, ${report.bytes} bytes) to ${flags.out}`);
}

/**
 * `evomem state import`: a file written by `state export`, or a stream file of evomem 0.1
 * (`MemoryStream.save`), whose vectors can be written out for your vector store.
 */
export async function runStateImport(
  flags: StateFlags & { in: string; replace: boolean; stream?: string; vectorsOut?: string; model?: string; device: EncoderOptions['device'] },
): Promise<void> {
  await inputFile(flags.in, '--in');
  if (flags.vectorsOut) await outputFile(flags.vectorsOut, '--vectors-out');
  if ((await magic(flags.in)) === 'EVOMEMQ1') {
    const encoder = await Encoder.load({ device: flags.device, ...(flags.model ? { model: flags.model } : {}) });
    try {
      const done = await withStore(flags.store, (store) =>
        importLegacyStream(store, flags.in, new EvolvingEncoder(encoder), { ...(flags.stream ? { stream: flags.stream } : {}), ...(flags.vectorsOut ? { vectorsOut: flags.vectorsOut } : {}) }),
      );
      console.error(`imported stream ${done.stream} (${done.segments} segments) from an evomem 0.1 stream file${flags.vectorsOut ? `; its vectors are in ${flags.vectorsOut}` : ''}`);
    } finally {
      await encoder.dispose();
    }
    return;
  }
  if (flags.vectorsOut || flags.stream) throw new EvomemError('INVALID_OPTION', `--vectors-out and --stream apply to evomem 0.1 stream files; ${flags.in} is an export.`);
  const report = await withStore(flags.store, (store) => importStreams(store, flags.in, { replace: flags.replace }));
  console.error(`imported ${report.streams} streams (${report.segments} segments) from ${flags.in}`);
}

async function magic(path: string): Promise<string> {
  const file = await open(path, 'r').catch((error: unknown) => {
    throw new EvomemError('STATE_INVALID', `Cannot read ${path}: ${(error as Error).message}`, { cause: error });
  });
  try {
    const head = Buffer.alloc(8);
    await file.read(head, 0, 8, 0);
    return head.toString('ascii');
  } finally {
    await file.close();
  }
}
