import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder, type EncoderOptions } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { TextTokenizer } from '../encoder/TextTokenizer.js';
import { anyText, anyValue, expectVectors, optionObjects, resultOrEvomemError, runs } from './harness.js';

// Property suite: random inputs into the encoder's public entry points. Each returns a
// result or an EvomemError with a code; see harness.ts.
// Values every load of the tiny model accepts (its width is 32, its limit 64 tokens). No
// document prompt: with overflow 'error' and a short maxLength it makes 'short' too long.
const validOptions = {
  device: fc.constantFrom('auto', 'cpu'),
  threads: fc.integer({ min: 1, max: 2 }),
  maxLength: fc.integer({ min: 4, max: 64 }),
  overflow: fc.constantFrom('truncate', 'error', 'chunk'),
  pooling: fc.constantFrom('mean', 'cls', 'lastToken'),
  normalize: fc.boolean(),
  dimensions: fc.integer({ min: 1, max: 32 }),
  queryPrompt: fc.string({ maxLength: 10 }),
  maxBatchTokens: fc.integer({ min: 64, max: 4096 }),
  maxBatchSize: fc.integer({ min: 1, max: 64 }),
};

describe('encoder under any input', () => {
  let model: { dir: string; cleanup: () => Promise<void> };
  let encoder: Encoder;
  let chunking: Encoder;
  let strict: Encoder;
  beforeAll(async () => {
    model = await tinyModel();
    encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
    chunking = await Encoder.load({ model: model.dir, device: 'cpu', overflow: 'chunk' });
    strict = await Encoder.load({ model: model.dir, device: 'cpu', overflow: 'error' });
  });
  afterAll(async () => {
    await Promise.all([encoder?.dispose(), chunking?.dispose(), strict?.dispose()]);
    await model?.cleanup();
  });

  it('embeds texts of every Unicode class, or names what is wrong', { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyText, { maxLength: 6 }), fc.constantFrom('documents', 'query', 'matrix'), async (texts, how) => {
        for (const e of [encoder, chunking, strict]) {
          // Only overflow: 'error' may refuse a string; the other policies take any.
          const outcome = await resultOrEvomemError(`embed ${how}`, async () => {
            if (how === 'query') return [await e.embedQuery(texts[0] ?? '')];
            if (how === 'documents') return e.embedDocuments(texts);
            const m = await e.embedMatrix(texts);
            return Array.from({ length: m.rows }, (_, i) => m.data.subarray(i * m.dimensions, (i + 1) * m.dimensions));
          });
          if (outcome.ok) expectVectors(outcome.value, e.dimensions);
          else expect([e === strict, outcome.error.code]).toEqual([true, 'INPUT_TOO_LONG']);
        }
      }),
      runs(40),
    );
  });

  it('takes texts from 0 bytes to 2 MB under every overflow policy', { timeout: 600_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.constantFrom(0, 1, 512 * 1024, 1024 * 1024, 2 * 1024 * 1024), fc.integer({ min: 0, max: 2 * 1024 * 1024 })), fc.constantFrom('word ', 'x', '😀', 'ab cd\n', ' ', 'Maya: I moved to Denver. '), async (bytes, unit) => {
        const text = unit.repeat(Math.ceil(bytes / Buffer.byteLength(unit)));
        const truncated = await resultOrEvomemError('truncate', () => encoder.embedDocuments([text]), 60_000);
        expect(truncated.ok, 'the default truncation takes any length').toBe(true);
        if (truncated.ok) expectVectors(truncated.value, encoder.dimensions);
        const refused = await resultOrEvomemError('overflow error', () => strict.embedDocuments(['short', text]), 60_000);
        // Blank texts embed as ''; past 64 KB these units are far over the model's 64 tokens.
        const fits = text.trim() === '' || (bytes <= 65_536 && strict.countTokens(text) <= strict.maxLength);
        expect(refused.ok, `overflow 'error' on ${bytes} bytes of ${JSON.stringify(unit)}`).toBe(fits);
        if (!refused.ok) expect(refused.error).toMatchObject({ code: 'INPUT_TOO_LONG', message: expect.stringMatching(/^texts\[1\] /) });
        if (bytes <= 1024 * 1024) {
          const chunked = await resultOrEvomemError('chunk', () => chunking.embedDocuments([text]), 120_000);
          expect(chunked.ok, 'chunk mode embeds a 1 MB text').toBe(true);
          if (chunked.ok) expectVectors(chunked.value, chunking.dimensions);
        }
      }),
      runs(8),
    );
  });

  it('loads with any option object, or names the option', { timeout: 300_000 }, async () => {
    const valid = {
      ...validOptions,
      documentPrompt: fc.string({ maxLength: 10 }),
      dtype: fc.constantFrom('fp32', 'int8', 'nope'),
      modelFile: fc.constantFrom('onnx/model.onnx', 'missing.onnx', '../x'),
      onBatch: fc.constant(() => {}),
      deviceId: fc.integer({ min: 0, max: 3 }),
    };
    await fc.assert(
      fc.asyncProperty(optionObjects(valid), async (random) => {
        // The model is always the tiny folder and the hub unreachable, so no option can download.
        const options = { ...random, model: model.dir, offline: true, hubEndpoint: 'http://127.0.0.1:9' } as EncoderOptions;
        const outcome = await resultOrEvomemError('Encoder.load', () => Encoder.load(options));
        if (!outcome.ok) return;
        try {
          expectVectors(await outcome.value.embedDocuments(['a memory', '']), outcome.value.dimensions);
        } finally {
          await outcome.value.dispose();
        }
      }),
      runs(60),
    );
  });

  it('loads with every valid option object', { timeout: 300_000 }, async () => {
    const valid = { ...validOptions, dtype: fc.constant('fp32') };
    await fc.assert(
      fc.asyncProperty(fc.record(valid, { requiredKeys: [] }), async (options) => {
        const outcome = await resultOrEvomemError('Encoder.load', () => Encoder.load({ ...(options as EncoderOptions), model: model.dir }));
        expect(outcome.ok, `valid options refused: ${outcome.ok ? '' : outcome.error.message}`).toBe(true);
        if (!outcome.ok) return;
        try {
          expectVectors(await outcome.value.embedDocuments(['a memory', 'short']), outcome.value.dimensions);
        } finally {
          await outcome.value.dispose();
        }
      }),
      runs(30),
    );
  });

  it('refuses non-string texts by name', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(anyValue, { minLength: 1, maxLength: 3 }), async (values) => {
        fc.pre(values.some((v) => typeof v !== 'string'));
        const outcome = await resultOrEvomemError('embedDocuments', () => encoder.embedDocuments(values as string[]));
        expect(outcome.ok).toBe(false);
      }),
      runs(40),
    );
  });

  it('builds a tokenizer from any JSON, or says the file is invalid', async () => {
    await fc.assert(
      fc.asyncProperty(anyValue, anyValue, async (tokenizerJson, config) => {
        await resultOrEvomemError('new TextTokenizer', () => new TextTokenizer(tokenizerJson as never, config as never));
      }),
      runs(60),
    );
  });
});
