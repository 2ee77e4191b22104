import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from './Encoder.js';
import { cosine, tinyModel } from './fixtures.js';

// Every text of white space only (Unicode White_Space) gives the vector of the empty text.
// The Unigram tokenizer (like the default model's) gives white space ids of its own, so
// without that rule '   ' and '' embed differently.
const BLANKS = [' ', '   ', '\t\n', '\r\n', '\u00a0', '\u3000', '\u2028', '\u0085', '\u1680', '\u2000\u200a', '\u202f\u205f', ' \u00a0\u3000\t\r\n\v\f '];

describe.each(['unigram', 'wordpiece'] as const)('blank text on the %s tokenizer', (tokenizer) => {
  let model: { dir: string; cleanup: () => Promise<void> };
  let encoders: Encoder[];
  beforeAll(async () => {
    model = await tinyModel({ tokenizer, prompts: { query: 'what did: ', document: 'memory: ' } });
    encoders = await Promise.all((['truncate', 'chunk'] as const).map((overflow) => Encoder.load({ model: model.dir, device: 'cpu', threads: 1, overflow })));
  });
  afterAll(async () => {
    await Promise.all(encoders.map((e) => e.dispose()));
    await model.cleanup();
  });

  it('embeds every blank text exactly as the empty text, in every method and policy', async () => {
    for (const encoder of encoders) {
      const [emptyDoc] = await encoder.embedDocuments(['']);
      const emptyQuery = await encoder.embedQuery('');
      const emptyRow = (await encoder.embedMatrix([''])).data;
      for (const blank of BLANKS) {
        expect(Array.from((await encoder.embedDocuments([blank]))[0]!), JSON.stringify(blank)).toEqual(Array.from(emptyDoc!));
        expect(Array.from(await encoder.embedQuery(blank)), JSON.stringify(blank)).toEqual(Array.from(emptyQuery));
        expect(Array.from((await encoder.embedMatrix([blank])).data), JSON.stringify(blank)).toEqual(Array.from(emptyRow));
      }
      expect(encoder.countTokens('  \u3000 ')).toBe(encoder.countTokens(''));
    }
  });

  it('leaves text with anything but white space as it is', async () => {
    const [encoder] = encoders;
    const [word, spaced, dot] = await encoder!.embed(['memory', '   memory', ' . ']);
    const [empty] = await encoder!.embed(['']);
    expect(Array.from(word!)).not.toEqual(Array.from(empty!));
    expect(Array.from(dot!)).not.toEqual(Array.from(empty!));
    if (tokenizer === 'unigram') expect(cosine(word!, spaced!)).toBeLessThan(0.99999);
  });
});
