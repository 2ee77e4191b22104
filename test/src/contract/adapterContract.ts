import { Encoder, EvomemError } from '@evomem/core';
import { beforeAll, describe, expect, it } from 'vitest';

/** What every adapter offers, whatever its host calls it. */
export interface AdapterUnderTest {
  embedDocuments(texts: string[]): Promise<number[][]>;
  embedQuery(text: string): Promise<number[]>;
  /** The dimension the adapter reports to its host, if the host asks for one. */
  dimension?(): number | undefined;
}

const texts = ['Maya: I finally signed up for the pottery class.', 'Theo: I adopted a greyhound called Pepper.', 'short', 'Emoji 🎉 and ünïcödé'];

/**
 * The contract every adapter runs (like unstorage's driver suite): it must be glue, giving
 * exactly what @evomem/core gives for the same inputs. `make` builds the adapter on the
 * encoder it is handed.
 */
export function adapterContract(name: string, make: (encoder: Encoder) => AdapterUnderTest | Promise<AdapterUnderTest>): void {
  describe(`${name} adapter contract`, () => {
    let encoder: Encoder;
    let strict: Encoder;
    let adapter: AdapterUnderTest;

    beforeAll(async () => {
      encoder = await Encoder.load({ device: 'cpu' });
      strict = await Encoder.load({ device: 'cpu', overflow: 'error', maxLength: 16 });
      adapter = await make(encoder);
    });

    const near = (a: number[], b: ArrayLike<number>) => {
      expect(a).toHaveLength(b.length);
      a.forEach((v, i) => expect(v).toBeCloseTo(b[i]!, 5));
    };

    it('gives the same vectors as core: documents with the document prompt, queries with the query prompt', async () => {
      const docs = await adapter.embedDocuments(texts);
      const expected = await encoder.embedDocuments(texts);
      docs.forEach((v, i) => near(v, expected[i]!));
      near(await adapter.embedQuery(texts[0]!), await encoder.embedQuery(texts[0]!));
    });

    it('gives the same vector for a text in a batch and alone', async () => {
      const batch = await adapter.embedDocuments(texts);
      for (let i = 0; i < texts.length; i++) near((await adapter.embedDocuments([texts[i]!]))[0]!, batch[i]!);
    });

    it('reports the dimension its vectors have', async () => {
      const [v] = await adapter.embedDocuments(['x']);
      const reported = adapter.dimension?.();
      if (reported !== undefined) expect(reported).toBe(v!.length);
      expect(v!.length).toBe(encoder.dimensions);
    });

    it('returns [] for [] and a vector for an empty string', async () => {
      expect(await adapter.embedDocuments([])).toEqual([]);
      const [empty] = await adapter.embedDocuments(['']);
      near(empty!, (await encoder.embedDocuments(['']))[0]!);
      expect(await adapter.embedQuery('')).toHaveLength(encoder.dimensions);
    });

    it("passes core's errors through with core's message", async () => {
      const strictAdapter = await make(strict);
      const long = 'word '.repeat(40);
      const coreError = (await strict.embedDocuments(['ok', long]).catch((e: unknown) => e)) as EvomemError;
      const adapterError = (await strictAdapter.embedDocuments(['ok', long]).catch((e: unknown) => e)) as EvomemError;
      expect(coreError).toBeInstanceOf(EvomemError);
      expect(adapterError).toBeInstanceOf(EvomemError);
      expect(adapterError.message).toBe(coreError.message);
    });

    it('serves concurrent calls with the same vectors as sequential ones', async () => {
      const queries = Array.from({ length: 20 }, (_, i) => `question ${i} about ${texts[i % texts.length]}`);
      const concurrent = await Promise.all(queries.map((q) => adapter.embedQuery(q)));
      for (let i = 0; i < queries.length; i += 5) near(concurrent[i]!, await adapter.embedQuery(queries[i]!));
    });
  });
}
