import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { EvomemError } from '../errors.js';
import { createRetriever } from '../eval/retrievers.js';
import { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { defaultEvolvingWeights } from '../memory/readOut.js';
import { seededRandom } from '../util/random.js';
import { QueryAdapter, type AdapterModel } from './QueryAdapter.js';
import { refusal } from '../util/expectError.js';

// Adapter files and in-memory adapters: every number is checked when loaded, so a damaged
// weight is a STATE_INVALID naming the file and the field, never a NaN vector later.

let model: { dir: string; cleanup: () => Promise<void> };
let encoder: Encoder;
let described: AdapterModel;
let dir: string;
const D = 32;
const RANK = 2;

beforeAll(async () => {
  model = await tinyModel();
  encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
  described = await encoder.describeModel();
  dir = await mkdtemp(join(tmpdir(), 'evomem-weights-'));
});
afterAll(async () => {
  await encoder?.dispose();
  await model?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const small = (n: number, seed: number) => {
  const random = seededRandom(seed);
  return Float32Array.from({ length: n }, () => (random() - 0.5) * 0.2);
};
const good = () => new QueryAdapter({ model: described, projection: { kind: 'low-rank', rank: RANK, u: small(D * RANK, 1), v: small(D * RANK, 2) }, evolving: defaultEvolvingWeights(D) });

/** Base64 of float32s with one value replaced. */
function withValue(base64: string, index: number, value: number): string {
  const floats = new Float32Array(new Uint8Array(Buffer.from(base64, 'base64')).buffer);
  floats[index] = value;
  return Buffer.from(floats.buffer).toString('base64');
}

/** The adapter's JSON, changed by `edit` and written without a checksum (as a hand-made or older file). */
async function writeEdited(name: string, edit: (json: Record<string, any>) => void): Promise<string> {
  const json = JSON.parse(JSON.stringify(good().toJson())) as Record<string, any>;
  delete json.checksum;
  edit(json);
  const file = join(dir, name);
  await writeFile(file, JSON.stringify(json));
  return file;
}


describe('adapter files', () => {
  it.each([
    ['a NaN weight', 'nan.json', (j: Record<string, any>) => (j.query.u = withValue(j.query.u, 17, Number.NaN)), /nan\.json: field "query\.u" has a non-finite value \(NaN\) at index 17/],
    ['an infinite weight', 'inf.json', (j: Record<string, any>) => (j.query.v = withValue(j.query.v, 3, -Infinity)), /field "query\.v" has a non-finite value \(-Infinity\) at index 3/],
    ['a weight too large for float32 sums', 'huge.json', (j: Record<string, any>) => (j.query.v = withValue(j.query.v, 5, 3e38)), /field "query\.v" has a value out of range .* at index 5/],
    ['a fractional rank', 'rank.json', (j: Record<string, any>) => (j.query.rank = 2.5), /field "query\.rank" must be a positive integer, got 2\.5/],
    ['weights that are not base64', 'b64.json', (j: Record<string, any>) => (j.query.u = `${j.query.u.slice(0, -4)}*!?#`), /field "query\.u" is not valid base64/],
    ['weights cut short', 'cut.json', (j: Record<string, any>) => (j.query.u = j.query.u.slice(0, -8)), /field "query\.u" (holds \d+ values; low-rank at 32 dimensions needs 64|is not valid base64)/],
    ['a missing model id', 'id.json', (j: Record<string, any>) => delete j.model.id, /field "model\.id" is missing/],
    ['a projection of no known kind', 'kind.json', (j: Record<string, any>) => (j.query.kind = 'diagonal'), /field "query\.kind" must be "low-rank" or "linear", got "diagonal"/],
    ['a training report that is not an object', 'training.json', (j: Record<string, any>) => (j.training = 'yes'), /field "training" must be an object, got "yes"/],
    ['evolving weights without a gate', 'gate.json', (j: Record<string, any>) => delete j.evolving.gate, /field "evolving\.gate" is missing/],
    ['an evolving gate scale that is text', 'scale.json', (j: Record<string, any>) => (j.evolving.gate.scale = 'x'), /field "evolving\.gate\.scale" must be a finite number, got "x"/],
    ['an evolving temperature of 0', 'temp.json', (j: Record<string, any>) => (j.evolving.temperature = 0), /field "evolving\.temperature" must be a finite number > 0, got 0/],
    ['evolving weights of another width', 'width.json', (j: Record<string, any>) => (j.evolving.dimensions = 16), /field "evolving\.dimensions" is 16; the adapter is 32-d/],
  ])('refuses %s, naming the file and the field', async (_, name, edit, message) => {
    const file = await writeEdited(name, edit);
    const error = await refusal(() => QueryAdapter.load(file));
    expect(error.code).toBe('STATE_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).toContain(file);
  });

  it('refuses a NaN adapter in Encoder.load, instead of giving NaN query vectors', async () => {
    const file = await writeEdited('encoder-nan.json', (j) => (j.query.u = withValue(j.query.u, 17, Number.NaN)));
    const error = await refusal(() => Encoder.load({ model: model.dir, device: 'cpu', adapter: file }));
    expect(error).toMatchObject({ code: 'STATE_INVALID', message: expect.stringContaining('field "query.u" has a non-finite value (NaN) at index 17') });
  });

  it('refuses a file with one flipped bit anywhere the checksum covers', async () => {
    const saved = await good().save(join(dir, 'sealed'));
    const text = await readFile(saved, 'utf8');
    expect(JSON.parse(text).checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
    // A digit of the gate ("10" -> "30"), a letter of the model id, and a base64 letter of the
    // weights that moves only the lowest mantissa byte of a float (every 16th character starts
    // a float's first byte; XOR 2 keeps a letter other than Y a letter): each flip leaves a
    // well-formed adapter of finite weights, so only the checksum can tell.
    const at = (needle: string) => text.indexOf(needle);
    const u = at('"u":"') + '"u":"'.length;
    const weight = Array.from({ length: 20 }, (_, k) => u + 16 * k).find((i) => /[A-XZa-xz]/.test(text[i]!))!;
    const flips = [at('"scale":10') + '"scale":'.length, at('"id":"') + '"id":"'.length + 1, weight];
    for (const [i, position] of flips.entries()) {
      const bytes = Buffer.from(text);
      bytes[position]! ^= 0b10;
      const file = join(dir, `flipped-${i}.json`);
      await writeFile(file, bytes);
      const error = await refusal(() => QueryAdapter.load(file));
      expect(error.code).toBe('STATE_INVALID');
      expect(error.message).toMatch(/fails its checksum/);
    }
    // A flip in the checksum's own key would turn the check off; with a weight flipped too,
    // the file must still be refused.
    const renamed = Buffer.from(text.replace('"checksum":', '"checksul":'));
    renamed[weight]! ^= 0b10;
    await writeFile(join(dir, 'unkeyed.json'), renamed);
    const unkeyed = await refusal(() => QueryAdapter.load(join(dir, 'unkeyed.json')));
    expect(unkeyed).toMatchObject({ code: 'STATE_INVALID', message: expect.stringContaining('unknown field "checksul"') });
    const cut = join(dir, 'truncated.json');
    await writeFile(cut, text.slice(0, text.length / 2));
    expect((await refusal(() => QueryAdapter.load(cut))).code).toBe('STATE_INVALID');
  });

  it('round-trips a sealed file, and reads one without a checksum', async () => {
    const adapter = good();
    const loaded = await QueryAdapter.load(await adapter.save(join(dir, 'round')));
    const q = small(D, 9);
    expect([...loaded.apply(q)]).toEqual([...adapter.apply(q)]);
    expect(loaded.evolving).toEqual(adapter.evolving);
    const unsealed = await writeEdited('unsealed.json', () => {});
    expect([...(await QueryAdapter.load(unsealed)).apply(q)]).toEqual([...adapter.apply(q)]);
  });
});

describe('adapters made in memory', () => {
  const projection = () => ({ kind: 'low-rank' as const, rank: RANK, u: small(D * RANK, 1), v: small(D * RANK, 2) });

  it.each([
    ['a NaN weight', () => new QueryAdapter({ model: described, projection: { ...projection(), u: Object.assign(small(D * RANK, 1), { 17: Number.NaN }) } }), /QueryAdapter: field "projection\.u" has a non-finite value \(NaN\) at index 17/],
    ['an infinite linear weight', () => new QueryAdapter({ model: described, projection: { kind: 'linear', matrix: Object.assign(new Float32Array(D * D), { 40: Infinity }) } }), /field "projection\.matrix" has a non-finite value \(Infinity\) at index 40/],
    ['weights that are no Float32Array', () => new QueryAdapter({ model: described, projection: { ...projection(), v: [...small(D * RANK, 2)] as unknown as Float32Array } }), /field "projection\.v" must be a Float32Array, got an array of 64/],
    ['dimensions that are text', () => new QueryAdapter({ model: { ...described, dimensions: '32' as unknown as number }, projection: projection() }), /field "model\.dimensions" must be a positive integer, got "32"/],
    ['a gate with no scale', () => new QueryAdapter({ model: described, projection: projection(), evolving: { ...defaultEvolvingWeights(D), gate: { bias: 0, max: 0.5 } as never } }), /field "evolving\.gate\.scale" is missing/],
  ])('refuses %s', (_, make, message) => {
    expect(make).toThrow(message);
    expect(make).toThrow(expect.objectContaining({ code: 'STATE_INVALID' }));
  });
});

describe('retrievers given an adapter', () => {
  it('bm25 refuses an adapter instead of ignoring it', async () => {
    const file = await writeEdited('for-bm25.json', (j) => (j.query.u = withValue(j.query.u, 0, Number.NaN)));
    const error = await refusal(() => createRetriever('bm25', { adapter: file }));
    expect(error).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('bm25 uses no adapter') });
  });

  it('dense refuses a corrupt adapter, naming the file and the field', async () => {
    const file = await writeEdited('for-dense.json', (j) => (j.query.v = withValue(j.query.v, 17, Number.NaN)));
    const error = await refusal(() => createRetriever('dense', { encoder: { model: model.dir, device: 'cpu' }, adapter: file }));
    expect(error).toMatchObject({ code: 'STATE_INVALID', message: expect.stringContaining(`${file}: field "query.v" has a non-finite value (NaN) at index 17`) });
  });

  it('the evolving encoder never meets a corrupt gate from an adapter', async () => {
    const file = await writeEdited('for-evolving.json', (j) => (j.evolving.gate.max = 'all'));
    const error = await refusal(async () => new EvolvingEncoder(await Encoder.load({ model: model.dir, device: 'cpu', adapter: file })));
    expect(error).toMatchObject({ code: 'STATE_INVALID', message: expect.stringContaining('field "evolving.gate.max" must be a finite number >= 0 and <= 1, got "all"') });
  });
});
