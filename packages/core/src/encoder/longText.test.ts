import { Tokenizer } from '@huggingface/tokenizers';
import { tinyWordPieceTokenizer } from '@evomem/onnx-builder';
import fc from 'fast-check';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvomemError } from '../errors.js';
import { Encoder } from './Encoder.js';
import { norm, tinyModel, tinyUnigramTokenizer } from './fixtures.js';
import { PIECE_CHARS, TextTokenizer } from './TextTokenizer.js';

// Texts far longer than a model reads: the tokenizer library overflows its stack on one
// call of some hundred thousand tokens (the default model's Unigram tokenizer sees a whole
// text as one sequence), so TextTokenizer tokenizes in pieces cut at spaces.

const SHARED_MODELS = join(process.env.EVOMEM_SHARED ?? fileURLToPath(new URL('../../../../../shared', import.meta.url)), 'models');
const read = (dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as object;
const tokenizers: [string, () => { json: object; config: object }][] = [
  ['tiny WordPiece', () => ({ json: tinyWordPieceTokenizer().tokenizer, config: { pad_token: '[PAD]' } })],
  ['tiny Unigram (sentencepiece, like the default model)', () => ({ json: tinyUnigramTokenizer().tokenizer, config: tinyUnigramTokenizer().config })],
  ...['all-MiniLM-L6-v2', 'gte-small']
    .filter((name) => existsSync(join(SHARED_MODELS, name)))
    .map((name): [string, () => { json: object; config: object }] => [`real ${name}`, () => ({ json: read(join(SHARED_MODELS, name), 'tokenizer.json'), config: read(join(SHARED_MODELS, name), 'tokenizer_config.json') })]),
];

/** Words, punctuation, scripts and white space of every kind, joined by runs of white space. */
const word = fc.oneof(
  fc.constantFrom('memory', 'agent', 'what', 'did', 'she', 'say', 'Café', 'naïve', 'ＡＢＣ', '東京', '記憶です', '😀', 'x2', "don't", 'U.S.A.', '...', '?!', '[SEP]', 'über', 'ﬁne'),
  fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 12 }).filter((w) => !/\s/.test(w)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 6 }).filter((w) => !/\s/.test(w)),
);
const gap = fc.constantFrom(' ', ' ', ' ', '  ', '\n', ' \n ', '\t', '\u00a0', '\u3000', ' \u3000 ', '\r\n');
/** A text of 3 to 12 pieces: long enough to be cut, well under the sizes that crash the library. */
const longText = fc.array(fc.tuple(word, gap), { minLength: 3000, maxLength: 9000 }).map((parts) => parts.map(([w, g]) => w + g).join(''));

describe.each(tokenizers)('TextTokenizer pieces on the %s tokenizer', (_, make) => {
  const { json, config } = make();
  const whole = new Tokenizer(json, config);
  const tokenizer = new TextTokenizer(json, config);
  const wholeIds = (text: string) => whole.encode(text, { add_special_tokens: false }).ids;
  const specials = (text: string) => {
    const all = whole.encode(text, { add_special_tokens: true }).ids;
    const content = wholeIds(text);
    return { prefix: all.slice(0, all.indexOf(content[0]!)), suffix: all.slice(all.indexOf(content[0]!) + content.length) };
  };

  it('gives the ids of the whole text, so truncation, chunks and counts do not change', { timeout: 120_000 }, () => {
    const { prefix, suffix } = specials('memory agent');
    fc.assert(
      fc.property(longText, fc.constantFrom(64, 512), (text, maxLength) => {
        expect(text.length).toBeGreaterThan(2 * PIECE_CHARS);
        const expected = wholeIds(text);
        expect(tokenizer.ids(text)).toEqual(expected);
        const budget = maxLength - prefix.length - suffix.length;
        expect(tokenizer.encode(text, maxLength, 'truncate', 0)).toEqual([[...prefix, ...expected.slice(0, budget), ...suffix]]);
        const chunks = tokenizer.encode(text, maxLength, 'chunk', 0);
        expect(chunks.flatMap((row) => row.slice(prefix.length, row.length - suffix.length))).toEqual(expected);
        expect(() => tokenizer.encode(text, maxLength, 'error', 4)).toThrow(`texts[4] is over ${maxLength} tokens`);
      }),
      { numRuns: 6, seed: 12 },
    );
  });
});

describe('Encoder on texts of 1 to 2 MB', () => {
  const unigram = tinyUnigramTokenizer();
  const tokenizer = new TextTokenizer(unigram.tokenizer, unigram.config);
  let model: { dir: string; cleanup: () => Promise<void> };
  let truncating: Encoder;
  let strict: Encoder;
  let chunking: Encoder;
  const sentence = 'what did she say about the memory agent? the agent did remember. ';
  const text = (bytes: number) => sentence.repeat(Math.ceil(bytes / sentence.length));
  beforeAll(async () => {
    model = await tinyModel({ tokenizer: 'unigram' });
    // Wide batches: a 1 MB text is some 3,500 windows, and the tiny model's calls are cheap.
    const load = (overflow: 'truncate' | 'error' | 'chunk') => Encoder.load({ model: model.dir, device: 'cpu', threads: 1, overflow, maxBatchTokens: 16384 });
    [truncating, strict, chunking] = [await load('truncate'), await load('error'), await load('chunk')];
  });
  afterAll(async () => {
    await Promise.all([truncating?.dispose(), strict?.dispose(), chunking?.dispose()]);
    await model?.cleanup();
  });

  it('truncates a 2 MB text to its head, reading only the head', async () => {
    const huge = text(2 * 1024 * 1024);
    const head = huge.slice(0, 1000);
    expect(tokenizer.ids(head).length).toBeGreaterThan(truncating.maxLength);
    const [vector] = await truncating.embedDocuments([huge]);
    const [expected] = await truncating.embedDocuments([head]);
    expect(Array.from(vector!)).toEqual(Array.from(expected!));
  });

  it("refuses a 2 MB text with INPUT_TOO_LONG naming its index under overflow: 'error'", async () => {
    const error = await strict.embedDocuments(['short', text(2 * 1024 * 1024)]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvomemError);
    expect(error).toMatchObject({ code: 'INPUT_TOO_LONG' });
    expect((error as EvomemError).message).toMatch(/^texts\[1\] is over 64 tokens \(\d+ in its first \d+ of \d+ characters\); the model takes at most 64\./);
  });

  it("embeds a 1 MB text whole under overflow: 'chunk', one row per window of its ids", async () => {
    const big = text(1024 * 1024);
    const windows = Math.ceil(tokenizer.ids(big).length / chunking.maxLength);
    const before = chunking.stats.rows;
    const [vector] = await chunking.embedDocuments([big]);
    expect(chunking.stats.rows - before).toBe(windows);
    expect(vector!.every(Number.isFinite)).toBe(true);
    expect(norm(vector!)).toBeCloseTo(1, 5);
  });

  it('truncates or refuses 1 MB without a space, and embeds 1 MB of white space as a blank text', async () => {
    for (const huge of ['x'.repeat(1024 * 1024), '😀x'.repeat(350_000)]) {
      expect((await truncating.embedDocuments([huge]))[0]!.every(Number.isFinite)).toBe(true);
      await expect(strict.embedDocuments([huge])).rejects.toMatchObject({ code: 'INPUT_TOO_LONG' });
    }
    const blank = ' \n'.repeat(512 * 1024);
    for (const encoder of [truncating, strict, chunking]) expect(await encoder.embedDocuments([blank])).toEqual(await encoder.embedDocuments(['']));
  });
});
