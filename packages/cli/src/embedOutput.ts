import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { EvomemError, type AdapterModel } from '@evomem/core';

/** f32 output: this magic, uint32 LE dimensions, uint32 LE header bytes, the header's JSON record (space-padded), then float32 LE rows. */
export const F32_MAGIC = 'EVOMEMF2';
/** evomem 0.1's f32 output: a 16-byte header with no record of the model or input. */
const F32_V1_MAGIC = 'EVOMEMF1';
const F32_FIXED_BYTES = 16;
// The header of a JSONL output is one short line; a first line longer than this is not one.
const JSONL_HEADER_MAX = 1 << 16;

/** How an output's rows were made. A run resumes an output only when this matches exactly. */
export interface EmbedRecord {
  format: 'evomem-embeddings';
  version: 1;
  /** The encoder: id, `sha256:` of its ONNX graph, dimensions (as `Encoder.describeModel()`). */
  model: AdapterModel;
  mode: 'document' | 'query' | 'raw';
  field: string;
  /** 'int8' when the rows come from evomem's int8 graph; absent for fp32 (as before int8 existed). */
  weights?: 'int8';
  /** The whole input file: `sha256:` of its bytes and its count of non-blank lines. */
  input: { sha256: string; records: number };
}

export interface ExistingOutput {
  record: EmbedRecord;
  /** Where the rows start. */
  headerBytes: number;
  size: number;
}

/** The header that starts a new output. */
export function encodeHeader(format: 'jsonl' | 'f32', record: EmbedRecord): Buffer {
  const json = JSON.stringify(format === 'jsonl' ? { evomem: record } : record);
  if (format === 'jsonl') return Buffer.from(`${json}\n`);
  // Padded to a multiple of 4 bytes so the rows can be mapped as a Float32Array in place.
  const body = Buffer.from(json);
  const header = Buffer.alloc(F32_FIXED_BYTES + Math.ceil(body.length / 4) * 4, 0x20);
  header.write(F32_MAGIC, 0, 'ascii');
  header.writeUInt32LE(record.model.dimensions, 8);
  header.writeUInt32LE(header.length, 12);
  body.copy(header, F32_FIXED_BYTES);
  return header;
}

/**
 * Reads the header of an existing output without changing a byte of it: undefined when the
 * file is missing or empty; an `EvomemError` when it is not evomem embed output.
 */
export async function readOutput(path: string, format: 'jsonl' | 'f32'): Promise<ExistingOutput | undefined> {
  const file = await open(path, 'r').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  });
  if (!file) return undefined;
  try {
    const size = (await file.stat()).size;
    if (size === 0) return undefined;
    const refuse = (why: string): never => {
      throw new EvomemError('INVALID_OPTION', `--out ${path} exists and ${why}; refusing to touch it. Choose another --out, or delete the file if it is yours to lose.`);
    };
    const head = Buffer.alloc(Math.min(size, JSONL_HEADER_MAX));
    await file.read(head, 0, head.length, 0);
    if (format === 'f32') {
      const magic = head.toString('ascii', 0, 8);
      if (magic === F32_V1_MAGIC) refuse('is evomem 0.1 f32 output, which records neither the model nor the input, so resuming it could mix them');
      if (size < F32_FIXED_BYTES || magic !== F32_MAGIC) refuse('is not an evomem f32 file');
      const headerBytes = head.readUInt32LE(12);
      if (headerBytes < F32_FIXED_BYTES || headerBytes > head.length) refuse('has a damaged evomem f32 header');
      const record = toRecord(parseJson(head.toString('utf8', F32_FIXED_BYTES, headerBytes)));
      if (!record || record.model.dimensions !== head.readUInt32LE(8)) return refuse('has a damaged evomem f32 header');
      return { record, headerBytes, size };
    }
    const newline = head.indexOf(10);
    const first = head.toString('utf8', 0, newline < 0 ? head.length : newline);
    const parsed = parseJson(first) as { evomem?: unknown; index?: unknown } | undefined;
    if (parsed && typeof parsed === 'object' && 'index' in parsed) refuse('is evomem 0.1 JSONL output, which records neither the model nor the input, so resuming it could mix them');
    const record = newline < 0 ? undefined : toRecord(parsed?.evomem);
    if (!record) return refuse('is not evomem JSONL output (its first line is not an {"evomem": ...} header)');
    return { record, headerBytes: newline + 1, size };
  } finally {
    await file.close();
  }
}

/** Refuses to resume an output made from another model, mode, field or input, naming what differs. */
export function checkResume(out: string, have: EmbedRecord, want: EmbedRecord): void {
  const fix = `Delete ${out} to start over, or choose another --out.`;
  if (have.model.fingerprint !== want.model.fingerprint || have.model.dimensions !== want.model.dimensions) {
    throw new EvomemError(
      'INVALID_OPTION',
      `--out ${out} holds ${have.model.dimensions}-dimensional rows of ${have.model.id} (${have.model.fingerprint.slice(0, 19)}...), but this run encodes with ` +
        `${want.model.id} (${want.model.dimensions} dimensions, ${want.model.fingerprint.slice(0, 19)}...); resuming would mix two models in one file. Pass the --model it was made with. ${fix}`,
    );
  }
  if ((have.weights ?? 'fp32') !== (want.weights ?? 'fp32')) {
    throw new EvomemError('INVALID_OPTION', `--out ${out} holds ${have.weights ?? 'fp32'} rows; this run encodes with --dtype ${want.weights ?? 'fp32'}, and resuming would mix the two in one file. Pass --dtype ${have.weights ?? 'fp32'}. ${fix}`);
  }
  if (have.mode !== want.mode || have.field !== want.field) {
    throw new EvomemError('INVALID_OPTION', `--out ${out} was made with --mode ${have.mode} --field ${have.field}; this run asks for --mode ${want.mode} --field ${want.field}. Pass the same flags. ${fix}`);
  }
  if (have.input.sha256 !== want.input.sha256 || have.input.records !== want.input.records) {
    throw new EvomemError(
      'INVALID_OPTION',
      `--out ${out} was made from another input (${have.input.records} records, ${have.input.sha256.slice(0, 19)}...) than --in now holds ` +
        `(${want.input.records} records, ${want.input.sha256.slice(0, 19)}...); its rows would not line up with the records. ${fix}`,
    );
  }
}

/** Whole rows after the header, and the byte where they end (a half-written row follows it). */
export async function completeRows(path: string, format: 'jsonl' | 'f32', existing: ExistingOutput): Promise<{ rows: number; end: number }> {
  const { headerBytes, size } = existing;
  if (format === 'f32') {
    const rowBytes = existing.record.model.dimensions * 4;
    const rows = Math.floor((size - headerBytes) / rowBytes);
    return { rows, end: headerBytes + rows * rowBytes };
  }
  // Counted in fixed-size chunks, so memory stays flat for any output size.
  const file = await open(path, 'r');
  try {
    const chunk = Buffer.alloc(1 << 16);
    let rows = 0;
    let end = headerBytes;
    for (let pos = headerBytes; pos < size; ) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, pos);
      if (bytesRead === 0) break;
      for (let i = 0; i < bytesRead; i++) {
        if (chunk[i] === 10) {
          rows++;
          end = pos + i + 1;
        }
      }
      pos += bytesRead;
    }
    return { rows, end };
  } finally {
    await file.close();
  }
}

/** The input's fingerprint: `sha256:` of its bytes, and its non-blank lines (the records). */
export async function describeInput(path: string): Promise<EmbedRecord['input']> {
  const hash = createHash('sha256');
  const stream = createReadStream(path).on('data', (chunk) => hash.update(chunk));
  let records = 0;
  for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) if (line.trim() !== '') records++;
  return { sha256: `sha256:${hash.digest('hex')}`, records };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function toRecord(value: unknown): EmbedRecord | undefined {
  const r = value as Partial<EmbedRecord> | undefined;
  const ok =
    r?.format === 'evomem-embeddings' &&
    r.version === 1 &&
    typeof r.model?.fingerprint === 'string' &&
    typeof r.model.id === 'string' &&
    Number.isInteger(r.model.dimensions) &&
    typeof r.mode === 'string' &&
    typeof r.field === 'string' &&
    (r.weights === undefined || r.weights === 'int8') &&
    typeof r.input?.sha256 === 'string' &&
    Number.isInteger(r.input.records);
  return ok ? (r as EmbedRecord) : undefined;
}
