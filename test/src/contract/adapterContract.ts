import { Encoder, EvomemError, QueryAdapter } from '@evomem/core';
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

    it('passes a trained query adapter through: queries projected, documents unchanged', async () => {
      const model = await encoder.describeModel();
      const D = model.dimensions;
      // A fixed low-rank projection stands in for a trained one: what matters here is that the host applies it.
      const wave = (phase: number) => Float32Array.from({ length: D * 4 }, (_, i) => Math.sin(i * 0.37 + phase) * 0.2);
      const trained = new QueryAdapter({ model, projection: { kind: 'low-rank', rank: 4, u: wave(0), v: wave(1) } });
      const adapted = await Encoder.load({ device: 'cpu', adapter: trained });
      try {
        const host = await make(adapted);
        const query = 'What did Theo name his greyhound?';
        const projected = await adapted.embedQuery(query);
        near(await host.embedQuery(query), projected);
        const plain = await encoder.embedQuery(query);
        expect(Math.max(...Array.from(projected, (v, i) => Math.abs(v - plain[i]!)))).toBeGreaterThan(1e-3);
        near((await host.embedDocuments([texts[1]!]))[0]!, (await encoder.embedDocuments([texts[1]!]))[0]!);
      } finally {
        await adapted.dispose();
      }
    });

    it('serves concurrent calls with the same vectors as sequential ones', async () => {
      const queries = Array.from({ length: 20 }, (_, i) => `question ${i} about ${texts[i % texts.length]}`);
      const concurrent = await Promise.all(queries.map((q) => adapter.embedQuery(q)));
      for (let i = 0; i < queries.length; i += 5) near(concurrent[i]!, await adapter.embedQuery(queries[i]!));
    });
  });
}
