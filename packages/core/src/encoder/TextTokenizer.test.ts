import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tinyWordPieceTokenizer } from '@evomem/onnx-builder';
import { describe, expect, it } from 'vitest';
import { TextTokenizer } from './TextTokenizer.js';

const { tokenizer: json } = tinyWordPieceTokenizer();
const tokenizer = new TextTokenizer(json, { pad_token: '[PAD]', model_max_length: 64 });
const CLS = 2;
const SEP = 3;

describe('TextTokenizer', () => {
  it('wraps a short text in the special tokens', () => {
    const [row] = tokenizer.encode('what did she say', 64, 'truncate', 0);
    expect(row![0]).toBe(CLS);
    expect(row![row!.length - 1]).toBe(SEP);
    expect(row!.slice(1, -1)).toEqual(tokenizer.ids('what did she say'));
    expect(tokenizer.specialCount).toBe(2);
    expect(tokenizer.padId).toBe(0);
  });

  it('truncates the content and keeps the closing special token', () => {
    const text = 'memory '.repeat(20);
    const [row] = tokenizer.encode(text, 8, 'truncate', 0);
    expect(row).toEqual([CLS, ...tokenizer.ids(text).slice(0, 6), SEP]);
  });

  it("throws naming the input and its length under overflow: 'error'", () => {
    expect(() => tokenizer.encode('memory '.repeat(20), 8, 'error', 7)).toThrow(/texts\[7\] is 22 tokens; the model takes at most 8/);
  });

  it("splits into windows that cover every token under overflow: 'chunk'", () => {
    const text = 'memory '.repeat(20);
    const rows = tokenizer.encode(text, 8, 'chunk', 0);
    expect(rows).toHaveLength(4);
    for (const row of rows) {
      expect(row.length).toBeLessThanOrEqual(8);
      expect(row[0]).toBe(CLS);
      expect(row[row.length - 1]).toBe(SEP);
    }
    expect(rows.flatMap((r) => r.slice(1, -1))).toEqual(tokenizer.ids(text));
  });

  it('encodes empty and whitespace-only text as just the special tokens', () => {
    expect(tokenizer.encode('', 64, 'truncate', 0)).toEqual([[CLS, SEP]]);
    expect(tokenizer.encode(' \t\n ', 64, 'truncate', 0)).toEqual([[CLS, SEP]]);
  });
});

// The real tokenizers in ../shared (see its README). CI has the folder, so there a missing
// one fails the run; a fresh clone without it skips this suite and says why.
const SHARED = process.env.EVOMEM_SHARED ?? fileURLToPath(new URL('../../../../../shared', import.meta.url));
const MODELS = join(SHARED, 'models');
if (!existsSync(MODELS)) {
  const reason = `${MODELS} not found: it holds the real tokenizers. Set EVOMEM_SHARED to the shared folder's path.`;
  if (process.env.CI) throw new Error(`CI must have ../shared: ${reason}`);
  console.warn(`SKIPPED TextTokenizer on the real tokenizers: ${reason}`);
}

// Expected ids are read by hand from each tokenizer.json's vocab (bert-base-uncased's, which
// both models share): [CLS] 101, [SEP] 102, what 2054, did 2106, she 2016, say 2360, ? 1029,
// token 19204, ##ization 3989, cafe 7668, 東 1879, 京 1755, hello 7592, "," 1010, world 2088,
// ! 999, memory 3638.
describe.skipIf(!existsSync(MODELS)).each(['all-MiniLM-L6-v2', 'gte-small'])('TextTokenizer on the real %s tokenizer', (name) => {
  const read = (file: string) => JSON.parse(readFileSync(join(MODELS, name, file), 'utf8')) as object;
  const real = () => new TextTokenizer(read('tokenizer.json'), read('tokenizer_config.json'));

  it('gives the vocabulary ids: lower-cased, word pieces, accents stripped, CJK split per character', () => {
    const t = real();
    expect(t.ids('What did she say?')).toEqual([2054, 2106, 2016, 2360, 1029]);
    expect(t.ids('Tokenization')).toEqual([19204, 3989]);
    expect(t.ids('Café 東京')).toEqual([7668, 1879, 1755]);
    expect(t.ids('hello, world!')).toEqual([7592, 1010, 2088, 999]);
    expect(t.specialCount).toBe(2);
    expect(t.padId).toBe(0);
  });

  it("wraps in [CLS] .. [SEP] without tokenizer.json's own padding to 128", () => {
    expect(real().encode('What did she say?', 512, 'truncate', 0)).toEqual([[101, 2054, 2106, 2016, 2360, 1029, 102]]);
    expect(real().encode('', 512, 'truncate', 0)).toEqual([[101, 102]]);
  });

  it('truncates, refuses or chunks a long text by the ids of its words', () => {
    const t = real();
    const text = 'memory '.repeat(20);
    const M = 3638;
    expect(t.encode(text, 8, 'truncate', 0)).toEqual([[101, M, M, M, M, M, M, 102]]);
    expect(t.encode(text, 8, 'chunk', 0)).toEqual([
      [101, M, M, M, M, M, M, 102],
      [101, M, M, M, M, M, M, 102],
      [101, M, M, M, M, M, M, 102],
      [101, M, M, 102],
    ]);
    expect(() => t.encode(text, 8, 'error', 3)).toThrow(/texts\[3\] is 22 tokens; the model takes at most 8/);
  });
});
