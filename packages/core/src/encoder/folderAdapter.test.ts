import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryAdapter } from '../adapter/QueryAdapter.js';
import { seededRandom } from '../util/random.js';
import { Encoder } from './Encoder.js';
import { cosine, tinyModel } from './fixtures.js';

describe("Encoder.load with the model folder's own adapter.json", () => {
  let fixture: Awaited<ReturnType<typeof tinyModel>>;
  let root: string;
  let dir: string;
  let plain: Encoder;
  let adapter: QueryAdapter;
  const query = 'where did Maya move?';
  const docs = ['Maya moved to Lisbon.', 'Theo adopted a greyhound.'];

  beforeAll(async () => {
    fixture = await tinyModel();
    root = await mkdtemp(join(tmpdir(), 'evomem-folder-adapter-'));
    dir = join(root, 'tiny-bert');
    await cp(fixture.dir, dir, { recursive: true });
    plain = await Encoder.load({ model: dir, device: 'cpu', adapter: false });
    const model = await plain.describeModel();
    const random = seededRandom(11);
    const D = model.dimensions;
    const small = () => Float32Array.from({ length: D * 2 }, () => (random() - 0.5) * 0.6);
    adapter = new QueryAdapter({ model, projection: { kind: 'low-rank', rank: 2, u: small(), v: small() }, fusion: { static: { bm25: 0.5, dense: 2 } } });
  });
  afterAll(async () => {
    await plain?.dispose();
    await rm(root, { recursive: true, force: true });
    await fixture?.cleanup();
  });

  /** Loads an encoder, hands it to `use`, and always disposes it. */
  async function withEncoder<T>(options: Parameters<typeof Encoder.load>[0], use: (e: Encoder) => Promise<T>): Promise<T> {
    const e = await Encoder.load({ device: 'cpu', ...options });
    try {
      return await use(e);
    } finally {
      await e.dispose();
    }
  }

  it('applies a fitting adapter.json to queries by default; adapter: false turns it off', async () => {
    await adapter.save(dir);
    const raw = await plain.embedQuery(query);
    await withEncoder({ model: dir }, async (e) => {
      expect(e.adapter).toBeDefined();
      expect(e.adapter!.model).toEqual(adapter.model);
      expect(e.adapter!.fusion).toEqual({ static: { bm25: 0.5, dense: 2 } });
      const projected = await e.embedQuery(query);
      expect([...projected]).toEqual([...adapter.apply(raw)]);
      expect(cosine(projected, raw)).toBeLessThan(0.999);
      // Documents are never projected.
      const mine = await e.embedDocuments(docs);
      const theirs = await plain.embedDocuments(docs);
      mine.forEach((v, i) => expect([...v]).toEqual([...theirs[i]!]));
    });
    await withEncoder({ model: dir, adapter: false }, async (e) => {
      expect(e.adapter).toBeUndefined();
      expect([...(await e.embedQuery(query))]).toEqual([...raw]);
    });
  });

  it('ignores an adapter.json for another graph or another dimension, with one warning, without failing', async () => {
    const warnings: string[] = [];
    const listen = (w: Error & { code?: string }) => w.code === 'EVOMEM_DEFAULT_ADAPTER_SKIPPED' && warnings.push(w.message);
    process.on('warning', listen);
    const other = new QueryAdapter({ ...adapter, model: { ...adapter.model, fingerprint: `sha256:${'0'.repeat(64)}` } });
    await other.save(dir);
    const raw = await plain.embedQuery(query);
    await withEncoder({ model: dir }, async (e) => {
      expect(e.adapter).toBeUndefined();
      expect([...(await e.embedQuery(query))]).toEqual([...raw]);
    });
    // The folder's own adapter at full width does not fit a truncated encoder.
    await adapter.save(dir);
    await withEncoder({ model: dir, dimensions: 16 }, async (e) => {
      expect(e.dimensions).toBe(16);
      expect(e.adapter).toBeUndefined();
    });
    await new Promise((resolve) => setImmediate(resolve));
    process.off('warning', listen);
    // Once per file: the second mismatch (the truncated encoder) is not repeated.
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/fits another graph: queries run without the model's default adapter/);
  });

  it('fails loudly on a damaged adapter.json', async () => {
    await writeFile(join(dir, 'adapter.json'), '{"format": "evomem-adapter", "vers');
    await expect(Encoder.load({ model: dir, device: 'cpu' })).rejects.toMatchObject({ code: 'STATE_INVALID', message: expect.stringMatching(/adapter\.json is not a readable adapter file/) });
    // Unless no adapter is asked for.
    await withEncoder({ model: dir, adapter: false }, async (e) => expect(e.adapter).toBeUndefined());
  });
});
