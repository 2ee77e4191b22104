import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder, TextTokenizer } from '@evomem/core';
import { writeBertFolder } from '@evomem/onnx-builder';
import { AutoTokenizer, env, pipeline, type FeatureExtractionPipeline } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedDir, skipReason } from './shared.js';

// Parity with transformers.js's feature-extraction pipeline on the same ONNX file and the
// real all-MiniLM-L6-v2 tokenizer: proves tokenization, masking, padding and pooling match
// the ecosystem's reference. The graph has MiniLM's vocabulary and graph shape, narrowed
// (64 wide, 2 layers) so the suite stays fast; random weights, so only agreement counts.
const skip = skipReason('transformers.js parity');
const MODEL_NAME = 'minilm-shaped';

const varied = [
  'hello',
  'A man is eating food.',
  'A man is eating a piece of bread.',
  'The girl is carrying a baby.',
  'What did Caroline say about the adoption agency last week?',
  '',
  '   ',
  'tabs\tand\nnewlines\r\nmixed',
  'Numbers 3.14159, times 1:56 pm on 8 May, 2023, and dates 2023-05-08.',
  'URL: https://example.com/path?q=memory&x=1#frag and mail a.b@example.org',
  'Emoji 😀🎉👩‍👩‍👧 and flags 🇫🇷🇯🇵',
  '日本語のテキストと中文文本',
  'Ελληνικά, русский текст, עברית, العربية',
  'héllo wörld — naïve café, déjà vu',
  'ALL CAPS SHOUTING!!! and... ellipses?!',
  "Don't won't can't y'all'd've",
  '<b>html</b> & "quotes" (parens) [brackets] {braces}',
  'a',
  '.',
  'supercalifragilisticexpialidocious antidisestablishmentarianism',
  'Caroline: I went to a LGBTQ support group yesterday and it was so powerful.',
  'Melanie: Wow, that sounds great! What happened there?',
  'word '.repeat(200).trim(),
  'The quick brown fox jumps over the lazy dog. '.repeat(40).trim(),
];
const overlong = ['memory '.repeat(800).trim(), 'Long conversations accumulate many turns. '.repeat(120).trim(), '🎉 '.repeat(900).trim()];

describe.skipIf(skip)('parity with transformers.js feature-extraction', () => {
  let root: string;
  let dir: string;
  let encoder: Encoder;
  let reference: FeatureExtractionPipeline;
  let ours: TextTokenizer;
  let sep: number;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'evomem-parity-'));
    dir = join(root, MODEL_NAME);
    const config = JSON.parse(await readFile(join(sharedDir, 'models/all-MiniLM-L6-v2/config.json'), 'utf8'));
    await writeBertFolder(dir, {
      config: { ...config, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128 },
      tokenizerFrom: join(sharedDir, 'models/all-MiniLM-L6-v2'),
      std: 0.5,
    });
    env.localModelPath = root;
    env.allowRemoteModels = false;
    reference = await pipeline('feature-extraction', MODEL_NAME, { dtype: 'fp32', device: 'cpu' });
    encoder = await Encoder.load({ model: dir, device: 'cpu' });
    ours = new TextTokenizer(
      JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')),
      JSON.parse(await readFile(join(dir, 'tokenizer_config.json'), 'utf8')),
    );
    sep = ours.encode('', 512, 'truncate', 0)[0]!.at(-1)!;
  });

  afterAll(async () => {
    await encoder?.dispose();
    await reference?.dispose();
    await rm(root, { recursive: true, force: true });
  });

  const cosines = async (texts: string[], referenceTexts = texts, pooling: 'mean' | 'cls' = 'mean', enc = () => encoder) => {
    const theirs = await reference(referenceTexts, { pooling, normalize: true });
    const mine = await enc().embed(texts);
    const width = mine[0]!.length;
    return mine.map((v, i) => {
      let dot = 0;
      for (let d = 0; d < width; d++) dot += v[d]! * (theirs.data[i * width + d] as number);
      return dot;
    });
  };

  it('gives the same vectors on varied inputs in one padded batch (cosine >= 0.9999)', async () => {
    const c = await cosines(varied);
    expect(Math.min(...c)).toBeGreaterThanOrEqual(0.9999);
  });

  it('gives the same vectors one text at a time', async () => {
    for (const text of varied.slice(0, 8)) expect((await cosines([text]))[0]).toBeGreaterThanOrEqual(0.9999);
  });

  it('gives the same vectors on real LoCoMo turns', async () => {
    const data = JSON.parse(await readFile(join(sharedDir, 'data/locomo/locomo-dev.json'), 'utf8')) as {
      conversation: Record<string, unknown>;
    }[];
    const turns = (data[0]!.conversation.session_1 as { speaker: string; text: string }[]).map((t) => `${t.speaker}: ${t.text}`);
    const c = await cosines(turns);
    expect(turns.length).toBeGreaterThan(10);
    expect(Math.min(...c)).toBeGreaterThanOrEqual(0.9999);
  });

  it('matches with cls pooling', async () => {
    const cls = await Encoder.load({ model: dir, device: 'cpu', pooling: 'cls' });
    const c = await cosines(varied.slice(0, 12), varied.slice(0, 12), 'cls', () => cls);
    await cls.dispose();
    expect(Math.min(...c)).toBeGreaterThanOrEqual(0.9999);
  });

  // transformers.js truncates by cutting the token sequence, which drops the closing [SEP];
  // Python tokenizers and sentence-transformers (what these models were trained and
  // evaluated with) cut the text's tokens and keep [SEP]. evomem follows Python. Proof of
  // both halves: the ids differ only in that last position, and our vector equals
  // transformers.js's on the text our truncation kept.
  it('truncates overlong text like Python tokenizers: same ids as transformers.js but the closing [SEP]', async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(MODEL_NAME);
    for (const text of overlong) {
      const [mine] = ours.encode(text, encoder.maxLength, 'truncate', 0);
      const theirs = (tokenizer(text, { truncation: true }).input_ids as { tolist(): bigint[][] }).tolist()[0]!.map(Number);
      expect(mine).toHaveLength(512);
      expect(theirs).toHaveLength(512);
      expect(mine!.slice(0, -1)).toEqual(theirs.slice(0, -1));
      expect(mine!.at(-1)).toBe(sep);
      expect(theirs.at(-1)).not.toBe(sep);
    }
  });

  it('gives the same vector as transformers.js on the text its truncation kept', async () => {
    const tokenizer = await AutoTokenizer.from_pretrained(MODEL_NAME);
    const kept = overlong.map((text) => tokenizer.decode(ours.encode(text, encoder.maxLength, 'truncate', 0)[0]!.slice(1, -1)));
    const c = await cosines(overlong, kept);
    expect(Math.min(...c)).toBeGreaterThanOrEqual(0.9999);
  });
});
