import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { cosine } from '../../util/vector.js';
import { loadOrt } from '../session.js';
import type { TextTokenizer } from '../TextTokenizer.js';

/**
 * Sentences of different lengths, run as one padded batch: a rewrite that mishandles the
 * attention mask shows up on the short rows.
 */
const PROBE_TEXTS = [
  'probe',
  'What did Caroline say about the support group last week?',
  'Melanie: We went camping by the lake in June, and the kids loved roasting marshmallows.',
  'I finally finished the painting of the sunset; it took me three weekends, two trips to the art store and a lot of patience.',
];

/**
 * Runs the exported graph and a rewrite of it on the same padded batch and returns the
 * smallest cosine similarity between their sentence vectors (token states are
 * mean-pooled over real tokens first). 1 means the rewrite computes the same function.
 */
export async function agreement(sourcePath: string, derived: Uint8Array, tokenizer: TextTokenizer, maxLength: number, threads?: number): Promise<number> {
  const ort = await loadOrt();
  const rows = PROBE_TEXTS.map((text, i) => tokenizer.encode(text, maxLength, 'truncate', i)[0]!);
  const seqLen = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * seqLen).fill(BigInt(tokenizer.padId));
  const mask = new BigInt64Array(rows.length * seqLen);
  rows.forEach((row, r) => row.forEach((id, t) => ((ids[r * seqLen + t] = BigInt(id)), (mask[r * seqLen + t] = 1n))));
  const options: InferenceSession.SessionOptions = { graphOptimizationLevel: 'all', intraOpNumThreads: threads ?? 1, logSeverityLevel: 3 };
  const run = async (session: InferenceSession): Promise<Float32Array[]> => {
    try {
      const shape = [rows.length, seqLen];
      const feeds: Record<string, Tensor> = { input_ids: new ort.Tensor('int64', ids, shape) };
      if (session.inputNames.includes('attention_mask')) feeds.attention_mask = new ort.Tensor('int64', mask, shape);
      if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(ids.length), shape);
      const out = (await session.run(feeds))[session.outputNames[0]!]!;
      const data = out.data as Float32Array;
      const width = out.dims.at(-1)!;
      return rows.map((row, r) => {
        if (out.dims.length !== 3) return data.slice(r * width, (r + 1) * width);
        const pooled = new Float32Array(width);
        for (let t = 0; t < row.length; t++) for (let h = 0; h < width; h++) pooled[h]! += data[(r * seqLen + t) * width + h]!;
        return pooled;
      });
    } finally {
      await session.release();
    }
  };
  const expected = await run(await ort.InferenceSession.create(sourcePath, options));
  const actual = await run(await ort.InferenceSession.create(derived, options));
  let least = 1;
  expected.forEach((a, r) => {
    const cos = cosine(a, actual[r]!);
    least = Math.min(least, Number.isFinite(cos) ? cos : -1);
  });
  return least;
}
