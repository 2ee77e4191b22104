import { tinyWordPieceTokenizer } from '@evomem/onnx-builder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvomemError } from '../errors.js';
import { Encoder, type EncoderOptions } from './Encoder.js';
import { tinyEncoderForSuite, tinyModel } from './fixtures.js';
import { resolveHubModel, type HubOptions } from './hub.js';
import { TextTokenizer } from './TextTokenizer.js';
import { failure } from '../util/expectError.js';


describe('Encoder.load options', () => {
  let model: { dir: string; cleanup: () => Promise<void> };
  beforeAll(async () => {
    model = await tinyModel();
  });
  afterAll(async () => {
    await model.cleanup();
  });
  const load = (options: Record<string, unknown>) => () => Encoder.load({ model: model.dir, device: 'cpu', ...options } as EncoderOptions);

  it('refuses a misspelt key, naming the nearest valid one', async () => {
    expect(await failure(load({ devise: 'cpu' }))).toMatch(/^INVALID_OPTION: Encoder\.load: unknown option 'devise'\. Did you mean 'device'\? Valid options: model, device, /);
    expect(await failure(() => Encoder.load({ modle: '/x' } as EncoderOptions))).toMatch(/^INVALID_OPTION: Encoder\.load: unknown option 'modle'\. Did you mean 'model'\?/);
    expect(await failure(load({ maxLenght: 32 }))).toContain("Did you mean 'maxLength'?");
  });

  it('refuses a value of the wrong kind, naming the key, what it takes and what it got', async () => {
    expect(await failure(load({ normalize: 'no' }))).toBe(`INVALID_OPTION: Encoder.load: option 'normalize' must be true or false, got "no".`);
    expect(await failure(load({ device: 'gpu' }))).toBe(`INVALID_OPTION: Encoder.load: option 'device' must be "auto", "cpu", "cuda" or "webgpu", got "gpu".`);
    expect(await failure(load({ dtype: 'fp64' }))).toContain(`option 'dtype' must be "fp32", "fp16", "q8"`);
    expect(await failure(load({ onBatch: 'log' }))).toContain(`option 'onBatch' must be a function, got "log".`);
    expect(await failure(load({ adapter: 42 }))).toContain(`option 'adapter' must be an adapter folder or adapter.json path, a loaded QueryAdapter, or false for none, got 42.`);
    expect(await failure(() => Encoder.load('cpu' as never))).toBe('INVALID_OPTION: Encoder.load takes an options object, got "cpu".');
  });

  it("refuses maxLength above the model's limit, naming the limit and where it comes from", async () => {
    expect(await failure(load({ maxLength: 100_000 }))).toMatch(
      /^INVALID_OPTION: Encoder\.load: option 'maxLength' is 100000, but .* takes at most 64 tokens \(model_max_length in tokenizer_config\.json\)\. Pass maxLength 64 or less/,
    );
    expect(await failure(load({ maxLength: 2 }))).toContain("option 'maxLength' is 2, which leaves no room beside the model's 2 special tokens. Pass at least 3.");
    const longest = await Encoder.load({ model: model.dir, device: 'cpu', maxLength: 64 });
    expect(longest.maxLength).toBe(64);
    await longest.dispose();
  });

  it('takes the position table as the limit when the tokenizer declares none', async () => {
    const open = await tinyModel({ modelMaxLength: 1e30 });
    try {
      expect(await failure(() => Encoder.load({ model: open.dir, device: 'cpu', maxLength: 129 }))).toContain('takes at most 128 tokens (max_position_embeddings in config.json)');
      const e = await Encoder.load({ model: open.dir, device: 'cpu', maxLength: 128 });
      expect(e.maxLength).toBe(128);
      await e.dispose();
    } finally {
      await open.cleanup();
    }
  });
});

describe('embed options', () => {
  const encoder = tinyEncoderForSuite();

  it('refuses a misspelt or wrong-typed option of every embed method', async () => {
    const signal = new AbortController().signal;
    expect(await failure(() => encoder().embed(['x'], { signl: signal } as never))).toBe(
      "INVALID_OPTION: Encoder.embed: unknown option 'signl'. Did you mean 'signal'? Valid options: signal.",
    );
    expect(await failure(() => encoder().embedDocuments(['x'], { signal: 'stop' } as never))).toBe(`INVALID_OPTION: Encoder.embedDocuments: option 'signal' must be an AbortSignal, got "stop".`);
    expect(await failure(() => encoder().embedQuery('x', { sgnal: signal } as never))).toContain("Encoder.embedQuery: unknown option 'sgnal'");
    expect(await failure(() => encoder().embedMatrix(['x'], 5 as never))).toBe('INVALID_OPTION: Encoder.embedMatrix takes an options object, got 5.');
    expect(await encoder().embed(['x'], { signal })).toHaveLength(1);
  });
});

describe('hub and tokenizer arguments', () => {
  it('refuses misspelt hub options before any download', async () => {
    expect(await failure(() => resolveHubModel('acme/tiny', { revison: 'v1' } as HubOptions))).toMatch(/^INVALID_OPTION: resolveHubModel: unknown option 'revison'\. Did you mean 'revision'\?/);
    expect(await failure(() => resolveHubModel('acme/tiny', { offline: 'yes' } as never))).toContain(`option 'offline' must be true or false, got "yes"`);
    expect(await failure(() => resolveHubModel('../not-an-id', { offline: true }))).toContain('resolveHubModel takes a hub model id such as "Xenova/all-MiniLM-L6-v2", got "../not-an-id".');
  });

  it('refuses what is not a tokenizer, and encode arguments of the wrong kind', () => {
    const fail = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        expect(error).toBeInstanceOf(EvomemError);
        return `${(error as EvomemError).code}: ${(error as EvomemError).message}`;
      }
      return 'returned';
    };
    expect(fail(() => new TextTokenizer(null as never, {}))).toContain("MODEL_FILE_INVALID: new TextTokenizer: tokenizerJson must be the parsed JSON object of the model's tokenizer.json, got null.");
    expect(fail(() => new TextTokenizer({ model: { type: 'Nope' } }, {}))).toMatch(/^MODEL_FILE_INVALID: new TextTokenizer: the tokenizer\.json given is not a working Hugging Face tokenizer/);
    const tokenizer = new TextTokenizer(tinyWordPieceTokenizer().tokenizer, {});
    expect(fail(() => tokenizer.encode('x', 0, 'truncate', 0))).toBe('INVALID_OPTION: TextTokenizer.encode: maxLength must be a positive integer, got 0.');
    expect(fail(() => tokenizer.encode('x', 8, 'drop' as never, 0))).toBe('INVALID_OPTION: TextTokenizer.encode: overflow must be "truncate", "error" or "chunk", got "drop".');
    expect(fail(() => tokenizer.encode(7 as never, 8, 'truncate', 3))).toBe('INVALID_OPTION: TextTokenizer.encode: texts[3] must be a string, got 7.');
  });
});
