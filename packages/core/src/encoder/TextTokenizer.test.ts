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
