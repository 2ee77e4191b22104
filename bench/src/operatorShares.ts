// Where onnxruntime spends its kernel time on evomem's batches, run in its own process.
// argv: one JSON { modelDir, threads, textsFile, scratchDir }. Prints one JSON OperatorProfile line.
//
// It encodes the texts with evomem's encoder (default options: the exported fp32 graph on the
// CPU) once to learn the batch shapes its scheduler picks and which graph file it runs
// (`encoder.graph.path`), then replays those shapes (the same texts, sorted by length) on
// that file in a session opened with evomem's session options plus onnxruntime's profiler, and sums the duration of every
// kernel event by operator type. The same session writes its optimized graph, whose node
// types show which fusions onnxruntime applied.
import { mkdir, readFile, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import ort from 'onnxruntime-node';
import { Encoder, TextTokenizer } from '@evomem/core';
import { sessionOptions } from './sessionOptions.js';
import { benchRoot } from './shared.js';

export interface OperatorProfile {
  /** Share of summed kernel time per operator type, largest first. */
  shares: Record<string, number>;
  kernelMs: number;
  /** Node count per operator type in the graph onnxruntime optimized and ran. */
  optimizedGraphOps: Record<string, number>;
  batches: number;
  texts: number;
  /** The graph profiled: the file evomem runs, and what evomem did to the export (`encoder.graph`). */
  graph: { path: string; transform: string; fusions?: Record<string, number> };
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

/** Sums kernel durations by operator type in an onnxruntime chrome-trace profile. */
function kernelTimeByOperator(events: TraceEvent[]): Map<string, number> {
  const byOp = new Map<string, number>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time') || !e.args?.op_name) continue;
    byOp.set(e.args.op_name, (byOp.get(e.args.op_name) ?? 0) + (e.dur ?? 0));
  }
  return byOp;
}

/** Node count per op_type of an ONNX ModelProto, read straight off the protobuf wire format. */
function graphOperatorCounts(model: Uint8Array): Record<string, number> {
  const counts: Record<string, number> = {};
  const graph = fields(model).find((f) => f.field === 7 && f.bytes);
  for (const node of fields(graph!.bytes!)) {
    if (node.field !== 1 || !node.bytes) continue;
    const opType = fields(node.bytes).find((f) => f.field === 4 && f.bytes);
    const name = new TextDecoder().decode(opType!.bytes);
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** The top-level fields of one protobuf message; length-delimited ones carry their bytes. */
function fields(buf: Uint8Array): { field: number; bytes?: Uint8Array }[] {
  const out: { field: number; bytes?: Uint8Array }[] = [];
  let pos = 0;
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      const byte = buf[pos++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
  };
  while (pos < buf.length) {
    const key = varint();
    const wire = key % 8;
    const field = Math.floor(key / 8);
    if (wire === 0) varint();
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const length = varint();
      out.push({ field, bytes: buf.subarray(pos, pos + length) });
      pos += length;
      continue;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    out.push({ field });
  }
  return out;
}

if (process.argv[2]) {
  const { modelDir, threads, textsFile, scratchDir } = JSON.parse(process.argv[2]) as { modelDir: string; threads: number; textsFile: string; scratchDir: string };
  const texts = JSON.parse(await readFile(textsFile, 'utf8')) as string[];
  const shapes: { rows: number; seqLen: number }[] = [];
  const encoder = await Encoder.load({ model: modelDir, device: 'cpu', threads, onBatch: (b) => shapes.push({ rows: b.rows, seqLen: b.seqLen }) });
  await encoder.embed(texts);
  const maxLength = encoder.maxLength;
  const { path: graphPath, transform, fusions } = encoder.graph;
  await encoder.dispose();

  const tokenizer = new TextTokenizer(
    JSON.parse(await readFile(join(modelDir, 'tokenizer.json'), 'utf8')),
    JSON.parse(await readFile(join(modelDir, 'tokenizer_config.json'), 'utf8')),
  );
  const rows = texts.map((t, i) => tokenizer.encode(t, maxLength, 'truncate', i)[0]!).sort((a, b) => a.length - b.length);
  await rm(scratchDir, { recursive: true, force: true });
  await mkdir(scratchDir, { recursive: true });
  const optimizedPath = join(scratchDir, 'optimized.onnx');
  const session = await ort.InferenceSession.create(graphPath, {
    ...sessionOptions(threads),
    executionProviders: ['cpu'],
    enableProfiling: true,
    profileFilePrefix: join(scratchDir, 'profile'),
    optimizedModelFilePath: optimizedPath,
  });
  // Shortest rows first, so each recorded shape gets rows of about its length.
  let next = 0;
  for (const { rows: count, seqLen } of shapes) {
    const ids = new BigInt64Array(count * seqLen).fill(BigInt(tokenizer.padId));
    const mask = new BigInt64Array(count * seqLen);
    for (let r = 0; r < count; r++) {
      const row = rows[Math.min(next++, rows.length - 1)]!.slice(0, seqLen);
      row.forEach((id, t) => {
        ids[r * seqLen + t] = BigInt(id);
        mask[r * seqLen + t] = 1n;
      });
    }
    const shape = [count, seqLen];
    const feeds: Record<string, ort.Tensor> = { input_ids: new ort.Tensor('int64', ids, shape) };
    if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, shape);
    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(count * seqLen), shape);
    await session.run(feeds);
  }
  session.endProfiling();
  await session.release();

  const traceFile = (await readdir(scratchDir)).find((f) => f.startsWith('profile') && f.endsWith('.json'));
  if (!traceFile) throw new Error(`onnxruntime wrote no profile into ${scratchDir}`);
  const byOp = kernelTimeByOperator(JSON.parse(await readFile(join(scratchDir, traceFile), 'utf8')) as TraceEvent[]);
  const total = [...byOp.values()].reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries([...byOp].sort((a, b) => b[1] - a[1]).map(([op, us]) => [op, Number((us / total).toFixed(4))]));
  const optimizedGraphOps = graphOperatorCounts(await readFile(optimizedPath));
  await rm(scratchDir, { recursive: true, force: true });
  process.stdout.write(`${JSON.stringify({ shares, kernelMs: total / 1000, optimizedGraphOps, batches: shapes.length, texts: texts.length, graph: { path: relative(join(benchRoot, '..'), graphPath), transform, ...(fusions ? { fusions } : {}) } } satisfies OperatorProfile)}\n`);
}
