import { open } from 'node:fs/promises';
import { Encoder, EvolvingEncoder, EvomemError, exportStreams, importLegacyStream, importStreams, openStateStore, type EncoderOptions, type StateStore } from '@evomem/core';
import { table } from './progress.js';

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

/** `evomem state list`: every stream of a store, with its segment count and state size. */
export async function runStateList(flags: StateFlags): Promise<void> {
  await withStore(flags.store, async (store) => {
    const rows: string[][] = [];
    for (const stream of await store.streams()) {
      const last = await store.segments(stream, { afterSeq: -1, limit: 1 });
      const count = last.length === 0 ? 0 : await countSegments(store, stream);
      rows.push([stream, String(count), String(await store.stateBytes(stream))]);
    }
    console.log(table(['stream', 'segments', 'state bytes'], rows));
  });
}

async function countSegments(store: StateStore, stream: string): Promise<number> {
  let count = 0;
  for (let after = -1; ; ) {
    const page = await store.segments(stream, { afterSeq: after, limit: 10_000 });
    if (page.length === 0) return count;
    count += page.length;
    after = page[page.length - 1]!.seq;
  }
}

/** `evomem state export`: streams of a store to one checked file. */
export async function runStateExport(flags: StateFlags & { out: string; stream?: string[] }): Promise<void> {
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
