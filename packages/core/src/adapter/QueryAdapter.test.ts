import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { cosine, norm, tinyModel } from '../encoder/fixtures.js';
import { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { seededRandom } from '../util/random.js';
import { QueryAdapter } from './QueryAdapter.js';

const randomVector = (n: number, random: () => number) => Float32Array.from({ length: n }, () => random() - 0.5);

function lowRank(dimensions: number, fingerprint: string, seed = 1): QueryAdapter {
  const random = seededRandom(seed);
  return new QueryAdapter({
    model: { id: 'tiny-bert', fingerprint, dimensions },
    projection: { kind: 'low-rank', rank: 2, u: randomVector(dimensions * 2, random), v: randomVector(dimensions * 2, random) },
  });
}

describe('QueryAdapter', () => {
  it('applies q + U V^T q, unit length, and is the identity when U is zero', () => {
    const D = 6;
    const a = lowRank(D, 'sha256:x');
    const q = Float32Array.from([1, 0, 0, 0, 0, 0]);
    const { u, v } = a.projection as { u: Float32Array; v: Float32Array };
    const expected = Float32Array.from(q, (x, d) => x + u[d * 2]! * v[0]! + u[d * 2 + 1]! * v[1]!);
    const out = a.apply(q);
    expect(norm(out)).toBeCloseTo(1, 6);
    expect(cosine(out, expected)).toBeCloseTo(1, 6);
    const identity = new QueryAdapter({ model: a.model, projection: { kind: 'low-rank', rank: 2, u: new Float32Array(D * 2), v } });
    expect([...identity.apply(q)]).toEqual([...q]);
  });

  it('round-trips through a folder and a .json path, byte for byte', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'evomem-adapter-'));
    try {
      const a = lowRank(8, 'sha256:abc');
      const file = await a.save(join(dir, 'nested', 'adapter-dir'));
      expect(file).toBe(join(dir, 'nested', 'adapter-dir', 'adapter.json'));
      const b = await QueryAdapter.load(join(dir, 'nested', 'adapter-dir'));
      const q = randomVector(8, seededRandom(3));
      expect([...b.apply(q)]).toEqual([...a.apply(q)]);
      expect(b.model).toEqual(a.model);
      await b.save(join(dir, 'copy.json'));
      expect(await readFile(join(dir, 'copy.json'), 'utf8')).toBe(await readFile(file, 'utf8'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('names what is wrong with a bad file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'evomem-adapter-'));
    try {
      await expect(QueryAdapter.load(join(dir, 'missing'))).rejects.toThrow(/missing does not exist.*evomem train --out/);
      await writeFile(join(dir, 'weights.json'), JSON.stringify({ format: 'evomem-evolving-weights', version: 1 }));
      await expect(QueryAdapter.load(join(dir, 'weights.json'))).rejects.toThrow(/is not an evomem adapter \(format "evomem-evolving-weights"\)/);
      const json = lowRank(4, 'sha256:a').toJson();
      await writeFile(join(dir, 'v2.json'), JSON.stringify({ ...json, version: 2 }));
      await expect(QueryAdapter.load(join(dir, 'v2.json'))).rejects.toThrow(/version 2.*Upgrade @evomem\/core/);
      await writeFile(join(dir, 'short.json'), JSON.stringify({ ...json, model: { ...json.model, dimensions: 5 } }));
      await expect(QueryAdapter.load(join(dir, 'short.json'))).rejects.toThrow(/"query\.u" holds 8 values; low-rank at 5 dimensions needs 10/);
      await writeFile(join(dir, 'broken.json'), '{"format": "evomem-ad');
      await expect(QueryAdapter.load(join(dir, 'broken.json'))).rejects.toMatchObject({ code: 'STATE_INVALID' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('Encoder with an adapter', () => {
  let a: Awaited<ReturnType<typeof tinyModel>>;
  let b: Awaited<ReturnType<typeof tinyModel>>;
  let plain: Encoder;
  beforeAll(async () => {
    a = await tinyModel({ seed: 1 });
    b = await tinyModel({ seed: 2 });
    plain = await Encoder.load({ model: a.dir, device: 'cpu' });
  });
  afterAll(async () => {
    await plain.dispose();
    await a.cleanup();
    await b.cleanup();
  });

  it('projects queries, leaves documents alone, and feeds the evolving gate', async () => {
    const model = await plain.describeModel();
    expect(model).toMatchObject({ id: 'tiny-bert', dimensions: plain.dimensions });
    expect(model.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    const adapter = new QueryAdapter({
      ...lowRank(model.dimensions, model.fingerprint),
      evolving: { format: 'evomem-evolving-weights', version: 1, dimensions: model.dimensions, temperature: 0.2, gate: { scale: 3, bias: -1, max: 0.3 }, projection: null },
    });
    const dir = await mkdtemp(join(tmpdir(), 'evomem-adapter-'));
    try {
      await adapter.save(dir);
      const adapted = await Encoder.load({ model: a.dir, device: 'cpu', adapter: dir });
      try {
        const raw = await plain.embedQuery('where did Maya move?');
        const projected = await adapted.embedQuery('where did Maya move?');
        expect([...projected]).toEqual([...adapter.apply(raw)]);
        expect(cosine(projected, raw)).toBeLessThan(0.999);
        expect([...(await adapted.embedDocuments(['Maya moved to Lisbon.']))[0]!]).toEqual([...(await plain.embedDocuments(['Maya moved to Lisbon.']))[0]!]);
        expect(new EvolvingEncoder(adapted).weights.gate).toEqual({ scale: 3, bias: -1, max: 0.3 });
      } finally {
        await adapted.dispose();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses an adapter trained on another model or dimension', async () => {
    const model = await plain.describeModel();
    const adapter = lowRank(model.dimensions, model.fingerprint);
    await expect(Encoder.load({ model: b.dir, device: 'cpu', adapter })).rejects.toThrow(/trained on tiny-bert \(sha256:.*\); the encoder runs tiny-bert .* Load the model it was trained on/);
    await expect(Encoder.load({ model: a.dir, device: 'cpu', dimensions: 16, adapter })).rejects.toThrow(/at 32 dimensions; the encoder gives 16-d vectors/);
  });
});

describe('QueryAdapter fusion weights', () => {
  const fusion = { static: { bm25: 0.8, dense: 1.3, 'session-bm25': 0.25, speaker: -0.5 }, evolving: { bm25: 1, 'date-match': 0.4 } };
  const withFusion = () => new QueryAdapter({ ...lowRank(4, 'sha256:f'), fusion });
  /** The file form of an adapter with `fusion` put in by hand (no checksum, as a hand-edited file). */
  const handEdited = (fusionField: unknown) => {
    const { checksum: _, ...body } = lowRank(4, 'sha256:f').toJson();
    return { ...body, fusion: fusionField };
  };

  it('round-trips through JSON and through a folder', async () => {
    const a = withFusion();
    expect(a.fusion).toEqual(fusion);
    const parsed = QueryAdapter.fromJson(JSON.parse(JSON.stringify(a.toJson())));
    expect(parsed.fusion).toEqual(fusion);
    const dir = await mkdtemp(join(tmpdir(), 'evomem-adapter-'));
    try {
      await a.save(dir);
      const loaded = await QueryAdapter.load(dir);
      expect(loaded.fusion).toEqual(fusion);
      const q = randomVector(4, seededRandom(5));
      expect([...loaded.apply(q)]).toEqual([...a.apply(q)]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('loads a file without fusion weights, or with null, as none', () => {
    const plain = lowRank(4, 'sha256:f');
    expect(plain.fusion).toBeNull();
    expect(plain.toJson()).not.toHaveProperty('fusion');
    expect(QueryAdapter.fromJson(JSON.parse(JSON.stringify(plain.toJson()))).fusion).toBeNull();
    expect(QueryAdapter.fromJson(handEdited(null)).fusion).toBeNull();
    // Only backends with weights are kept.
    expect(QueryAdapter.fromJson(handEdited({ static: { dense: 2 } })).fusion).toEqual({ static: { dense: 2 } });
  });

  it('refuses a file whose fusion weights name an unknown signal or are not finite numbers', async () => {
    const refused = (fusionField: unknown) => () => QueryAdapter.fromJson(handEdited(fusionField), 'my-adapter.json');
    expect(refused({ static: { 'sesion-bm25': 1 } })).toThrow(expect.objectContaining({ code: 'STATE_INVALID', message: expect.stringMatching(/my-adapter\.json.*'sesion-bm25'.*Did you mean 'session-bm25'/) }));
    expect(refused({ evolving: { bm25: '1' } })).toThrow(expect.objectContaining({ code: 'STATE_INVALID', message: expect.stringMatching(/'bm25' must be a finite number/) }));
    expect(refused({ static: { dense: Infinity } })).toThrow(expect.objectContaining({ code: 'STATE_INVALID' }));
    expect(refused({ statik: { dense: 1 } })).toThrow(expect.objectContaining({ code: 'STATE_INVALID', message: expect.stringMatching(/Did you mean 'static'/) }));
    expect(refused([1, 2])).toThrow(expect.objectContaining({ code: 'STATE_INVALID' }));
    // From disk too: 1e999 is how a file spells a weight too big for a number.
    const dir = await mkdtemp(join(tmpdir(), 'evomem-adapter-'));
    try {
      const file = join(dir, 'adapter.json');
      await writeFile(file, JSON.stringify(handEdited({ static: { bm25: 1 } })).replace('"bm25":1', '"bm25":1e999'));
      await expect(QueryAdapter.load(dir)).rejects.toMatchObject({ code: 'STATE_INVALID', message: expect.stringMatching(/'bm25' must be a finite number/) });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    // A checksummed file whose weights were changed fails its checksum.
    const json = withFusion().toJson();
    expect(() => QueryAdapter.fromJson({ ...json, fusion: { static: { bm25: 9 } } })).toThrow(/fails its checksum/);
  });

  it('refuses bad fusion weights when constructed', () => {
    expect(() => new QueryAdapter({ ...lowRank(4, 'sha256:f'), fusion: { static: { 'sesion-bm25': 1 } as never } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION', message: expect.stringMatching(/Did you mean 'session-bm25'/) }));
  });
});
