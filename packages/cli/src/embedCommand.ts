import { createReadStream } from 'node:fs';
import { open, stat, truncate, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Encoder, EvomemError, type EncoderOptions } from '@evomem/core';
import { checkResume, completeRows, describeInput, encodeHeader, readOutput, type EmbedRecord } from './embedOutput.js';
import { progressBar } from './progress.js';
import { inputFile, outputFile } from './userErrors.js';

export interface EmbedFlags {
  in: string;
  out: string;
  field: string;
  format: 'jsonl' | 'f32';
  mode: 'document' | 'query' | 'raw';
  batch: number;
  model?: string;
  device: EncoderOptions['device'];
  dtype: 'fp32' | 'int8';
  threads?: number;
}

/**
 * `evomem embed`: streams a JSONL file through the encoder in batches, appending each batch
 * to the output before reading on, so memory stays constant. The output starts with a
 * header recording the model, mode, field and input; a run that finds an output with the
 * same header resumes where its rows end (a half-written last row is cut off first), and
 * refuses any other file without changing a byte of it.
 */
export async function runEmbed(flags: EmbedFlags): Promise<{ embedded: number; resumedFrom: number }> {
  await inputFile(flags.in, '--in');
  await outputFile(flags.out, '--out');
  await refuseSameFile(flags);
  // Read before the model loads, so a foreign file is refused at once.
  const existing = await readOutput(flags.out, flags.format);
  const encoderOptions: EncoderOptions = { device: flags.device };
  if (flags.model) encoderOptions.model = flags.model;
  if (flags.threads) encoderOptions.threads = flags.threads;
  if (flags.dtype === 'int8') encoderOptions.dtype = 'int8';
  const encoder = await Encoder.load(encoderOptions);
  try {
    const input = await describeInput(flags.in);
    const record: EmbedRecord = { format: 'evomem-embeddings', version: 1, model: await encoder.describeModel(), mode: flags.mode, field: flags.field, input, ...(encoder.graph.transform === 'int8' ? { weights: 'int8' as const } : {}) };
    let done = 0;
    if (existing) {
      checkResume(flags.out, existing.record, record);
      const { rows, end } = await completeRows(flags.out, flags.format, existing);
      if (rows > input.records) {
        throw new EvomemError('INVALID_OPTION', `--out ${flags.out} holds ${rows} rows but ${flags.in} has ${input.records} records; it is damaged. Delete it to start over, or choose another --out.`);
      }
      if (end < existing.size) await truncate(flags.out, end);
      done = rows;
    } else {
      // 'wx' never replaces a file that appeared since it was read; an empty one is taken over.
      await writeFile(flags.out, encodeHeader(flags.format, record), { flag: (await stat(flags.out).catch(() => undefined)) ? 'r+' : 'wx' });
    }
    await embedFrom(done, input.records, encoder, flags);
    return { embedded: input.records - done, resumedFrom: done };
  } finally {
    await encoder.dispose();
  }
}

/** Embeds the records after the first `done` and appends them to the output. */
async function embedFrom(done: number, total: number, encoder: Encoder, flags: EmbedFlags): Promise<void> {
  const out = await open(flags.out, 'a');
  try {
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
  } finally {
    await out.close();
  }
}

/** Writing into the input would destroy it; compared by device and inode, so links and `./` spellings count. */
async function refuseSameFile(flags: EmbedFlags): Promise<void> {
  const [a, b] = await Promise.all([stat(flags.in), stat(flags.out).catch(() => undefined)]);
  if (b && a.dev === b.dev && a.ino === b.ino) {
    throw new EvomemError('INVALID_OPTION', `--out ${flags.out} is the input file (--in ${flags.in}); embedding into it would destroy the input. Choose another --out.`);
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
