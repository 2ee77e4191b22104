import { DEFAULT_FUSION, Encoder, SearchIndex } from '@evomem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The offline default model ships a query adapter with the pipeline's fusion weights
// (packages/model-use-lite/adapter). Encoder.load() uses it; adapter: false is the bare model.
describe('the default model with its shipped adapter', () => {
  let adapted: Encoder;
  let bare: Encoder;
  beforeAll(async () => {
    adapted = await Encoder.load({ device: 'cpu' });
    bare = await Encoder.load({ device: 'cpu', adapter: false });
  });
  afterAll(async () => {
    await adapted.dispose();
    await bare.dispose();
  });

  it('projects queries by default and leaves documents alone; adapter: false turns it off', async () => {
    expect(adapted.adapter?.model.id).toBe('@evomem/model-use-lite');
    expect(bare.adapter).toBeUndefined();
    const q = 'What did Maya say about the pottery class?';
    const [a, b] = [await adapted.embedQuery(q), await bare.embedQuery(q)];
    expect(Array.from(a)).toEqual(Array.from(adapted.adapter!.apply(b)));
    expect(Array.from(a)).not.toEqual(Array.from(b));
    expect(Array.from((await adapted.embedDocuments([q]))[0]!)).toEqual(Array.from((await bare.embedDocuments([q]))[0]!));
  });

  it("gives SearchIndex the adapter's fusion weights per backend, and the bare model core's defaults", async () => {
    expect(new SearchIndex({ encoder: adapted }).fusionWeights).toEqual(adapted.adapter!.fusion!.static);
    expect(new SearchIndex({ encoder: bare }).fusionWeights).toEqual(DEFAULT_FUSION.static);
    expect(adapted.adapter!.fusion!.static).not.toEqual(DEFAULT_FUSION.static);
  });
});
