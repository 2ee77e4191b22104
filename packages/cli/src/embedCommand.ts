import { createReadStream } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Encoder, EvomemError, type EncoderOptions } from '@evomem/core';
import { progressBar } from './progress.js';

/** The raw output starts with this magic, then uint32 LE dimensions, then uint32 LE 0; rows of float32 LE follow. */
export const F32_MAGIC = 'EVOMEMF1';
export const F32_HEADER_BYTES = 16;

export interface EmbedFlags {
  in: string;
  out: string;
  field: string;
  format: 'jsonl' | 'f32';
  mode: 'document' | 'query' | 'raw';
  batch: number;
  model?: string;
  device: EncoderOptions['device'];
  threads?: number;
}

/**
 * `evomem embed`: streams a JSONL file through the encoder in batches, appending each batch
 * to the output before reading on, so memory stays constant and a run that is interrupted
 * resumes where its output ends (a half-written last row is cut off first).
 */
export async function runEmbed(flags: EmbedFlags): Promise<{ embedded: number; resumedFrom: number }> {
  const encoderOptions: EncoderOptions = { device: flags.device };
  if (flags.model) encoderOptions.model = flags.model;
  if (flags.threads) encoderOptions.threads = flags.threads;
  const encoder = await Encoder.load(encoderOptions);
  const total = await countRecords(flags.in);
  const out = await open(flags.out, 'a+');
  try {
    const done = await resumePoint(out, flags, encoder.dimensions);
    if (done > total) {
      throw new EvomemError('INVALID_OPTION', `${flags.out} already holds ${done} rows but ${flags.in} has ${total} records; is it the output of another input? Pass another --out.`);
    }
    const bar = progressBar('embed');
    bar.start(total);
    bar.update(done);
    let record = 0;
    let batch: string[] = [];
    let firstLine = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      const vectors =
        flags.mode === 'query'
          ? await Promise.all(batch.map((t) => encoder.embedQuery(t)))
          : flags.mode === 'document'
            ? await encoder.embedDocuments(batch)
            : await encoder.embed(batch);
      if (flags.format === 'jsonl') {
        const lines = vectors.map((v, i) => JSON.stringify({ index: firstLine + i, embedding: Array.from(v) })).join('\n');
        await out.write(`${lines}\n`);
      } else {
        const buf = Buffer.alloc(vectors.length * encoder.dimensions * 4);
        vectors.forEach((v, i) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(buf, i * encoder.dimensions * 4));
        await out.write(buf);
      }
      bar.update(firstLine + batch.length);
      batch = [];
    };
    let lineNo = 0;
    for await (const line of createInterface({ input: createReadStream(flags.in), crlfDelay: Infinity })) {
      lineNo++;
      if (line.trim() === '') continue;
      if (record++ < done) continue;
      if (batch.length === 0) firstLine = record - 1;
      batch.push(textOf(line, lineNo, flags));
      if (batch.length >= flags.batch) await flush();
    }
    await flush();
    bar.stop();
    return { embedded: total - done, resumedFrom: done };
  } finally {
    await out.close();
    await encoder.dispose();
  }
}

function textOf(line: string, lineNo: number, flags: EmbedFlags): string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new EvomemError('DATASET_INVALID', `${flags.in}:${lineNo} is not valid JSON. Each line must be one JSON object with a "${flags.field}" string.`);
  }
  const text = (value as Record<string, unknown> | null)?.[flags.field];
  if (typeof text !== 'string') {
    throw new EvomemError('DATASET_INVALID', `${flags.in}:${lineNo} has no string field "${flags.field}"; pass --field to name the field that holds the text.`);
  }
  return text;
}

/** Rows already in the output; cuts a half-written last row; writes the header of a new f32 file. */
async function resumePoint(out: FileHandle, flags: EmbedFlags, dims: number): Promise<number> {
  const size = (await out.stat()).size;
  if (flags.format === 'jsonl') {
    // Count complete lines in fixed-size chunks (constant memory), then cut what follows the last one.
    const chunk = Buffer.alloc(1 << 16);
    let lines = 0;
    let end = 0;
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await out.read(chunk, 0, chunk.length, pos);
      for (let i = 0; i < bytesRead; i++) {
        if (chunk[i] === 10) {
          lines++;
          end = pos + i + 1;
        }
      }
      pos += bytesRead;
    }
    if (end < size) await out.truncate(end);
    return lines;
  }
  const header = Buffer.alloc(F32_HEADER_BYTES);
  if (size === 0) {
    header.write(F32_MAGIC, 0, 'ascii');
    header.writeUInt32LE(dims, 8);
    await out.write(header);
    return 0;
  }
  await out.read(header, 0, F32_HEADER_BYTES, 0);
  if (size < F32_HEADER_BYTES || header.toString('ascii', 0, 8) !== F32_MAGIC) {
    throw new EvomemError('INVALID_OPTION', `${flags.out} exists and is not an evomem f32 file; refusing to overwrite it. Pass another --out.`);
  }
  const fileDims = header.readUInt32LE(8);
  if (fileDims !== dims) {
    throw new EvomemError('INVALID_OPTION', `${flags.out} holds ${fileDims}-dimensional rows but this model gives ${dims}; pass another --out or the same --model.`);
  }
  const rowBytes = dims * 4;
  const rows = Math.floor((size - F32_HEADER_BYTES) / rowBytes);
  if (F32_HEADER_BYTES + rows * rowBytes !== size) await out.truncate(F32_HEADER_BYTES + rows * rowBytes);
  return rows;
}

async function countRecords(file: string): Promise<number> {
  if (!(await stat(file).catch(() => undefined))?.isFile()) throw new EvomemError('DATASET_INVALID', `Cannot read ${file}: no such file.`);
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line.trim() !== '') n++;
  return n;
}
