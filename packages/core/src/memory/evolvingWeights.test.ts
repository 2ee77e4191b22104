import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { EvomemError } from '../errors.js';
import { createRetriever } from '../eval/retrievers.js';
import { EvolvingEncoder } from './EvolvingEncoder.js';
import { defaultEvolvingWeights, loadEvolvingWeights, saveEvolvingWeights, type EvolvingWeights } from './readOut.js';
import { refusal } from '../util/expectError.js';

// Evolving weights files and options: each field of the read-out (temperature, gate,
// projection) is checked where it is read, so a bad number is a named error and never a
// NaN embedding or a raw TypeError at the first ingest.

let model: { dir: string; cleanup: () => Promise<void> };
let encoder: Encoder;
let dir: string;
const D = 32;
const turns = [
  { id: 'a', speaker: 'Maya', text: 'my sister moved to denver' },
  { id: 'b', speaker: 'Theo', text: 'what job did she get there' },
];

beforeAll(async () => {
  model = await tinyModel();
  encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
  dir = await mkdtemp(join(tmpdir(), 'evomem-evolving-weights-'));
});
afterAll(async () => {
  await encoder?.dispose();
  await model?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

/** Default weights as JSON, changed by `edit`, written without a checksum (as by hand). */
async function writeEdited(name: string, edit: (json: Record<string, any>) => void): Promise<string> {
  const json = JSON.parse(JSON.stringify({ ...defaultEvolvingWeights(D), projection: Array.from({ length: D * D }, (_, i) => (i % (D + 1) === 0 ? 1 : 0)) })) as Record<string, any>;
  edit(json);
  const file = join(dir, name);
  // A NaN written by JSON.stringify becomes null; 1e999 is read back as Infinity.
  await writeFile(file, JSON.stringify(json).replace('"__INFINITY__"', '1e999'));
  return file;
}


describe('evolving weights files', () => {
  it.each([
    ['no gate', (j: Record<string, any>) => delete j.gate, /field "gate" is missing; it must be an object/],
    ['a gate that is a number', (j: Record<string, any>) => (j.gate = 0.5), /field "gate" must be an object, got 0\.5/],
    ['a gate scale that is text', (j: Record<string, any>) => (j.gate.scale = 'x'), /field "gate\.scale" must be a finite number, got "x"/],
    ['a NaN gate bias (null in JSON)', (j: Record<string, any>) => (j.gate.bias = Number.NaN), /field "gate\.bias" must be a finite number, got null/],
    ['no gate max', (j: Record<string, any>) => delete j.gate.max, /field "gate\.max" is missing; it must be a finite number >= 0 and <= 1/],
    ['a gate max above 1', (j: Record<string, any>) => (j.gate.max = 1.5), /field "gate\.max" must be a finite number >= 0 and <= 1, got 1\.5/],
    ['a temperature of 0', (j: Record<string, any>) => (j.temperature = 0), /field "temperature" must be a finite number > 0, got 0/],
    ['a negative temperature', (j: Record<string, any>) => (j.temperature = -0.1), /field "temperature" must be a finite number > 0, got -0\.1/],
    ['an infinite temperature', (j: Record<string, any>) => (j.temperature = '__INFINITY__'), /field "temperature" must be a finite number > 0, got Infinity/],
    ['a temperature given as text', (j: Record<string, any>) => (j.temperature = '0.1'), /field "temperature" must be a finite number > 0, got "0\.1"/],
    ['no temperature', (j: Record<string, any>) => delete j.temperature, /field "temperature" is missing/],
    ['fractional dimensions', (j: Record<string, any>) => (j.dimensions = 31.5), /field "dimensions" must be a positive integer, got 31\.5/],
    ['a NaN in the projection (null in JSON)', (j: Record<string, any>) => (j.projection[17] = Number.NaN), /field "projection" has a non-finite value \(null\) at index 17/],
    ['an infinite projection weight', (j: Record<string, any>) => (j.projection[40] = '__INFINITY__'), /field "projection" has a non-finite value \(Infinity\) at index 40/],
    ['a projection of the wrong size', (j: Record<string, any>) => j.projection.pop(), /field "projection" holds 1023 values; a 32 x 32 matrix needs 1024/],
    ['a projection that is text', (j: Record<string, any>) => (j.projection = 'identity'), /field "projection" must be null \(identity\) or an array of 1024 numbers, got "identity"/],
  ])('refuse %s at load, naming the file and the field', async (_, edit, message) => {
    const file = await writeEdited(`w-${Math.random().toString(36).slice(2)}.json`, edit);
    const error = await refusal(() => loadEvolvingWeights(file, D));
    expect(error.code).toBe('STATE_INVALID');
    expect(error.message).toMatch(message);
    expect(error.message).toContain(file);
  });

  it('refuse another format or version', async () => {
    const file = await writeEdited('v2.json', (j) => (j.version = 2));
    expect(await refusal(() => loadEvolvingWeights(file))).toMatchObject({ code: 'STATE_INVALID', message: expect.stringMatching(/is not evomem evolving weights \(format "evomem-evolving-weights", version 2/) });
  });

  it('are saved with a checksum that catches a flipped digit, and hand-written ones still load', async () => {
    const weights: EvolvingWeights = { ...defaultEvolvingWeights(D), temperature: 0.2, gate: { scale: 3, bias: -1, max: 0.3 } };
    const file = join(dir, 'sealed.json');
    await saveEvolvingWeights(file, weights);
    expect(await loadEvolvingWeights(file, D)).toEqual(weights);
    const text = await readFile(file, 'utf8');
    // "scale":3 -> "scale":7 (0x33 -> 0x37, one bit): a valid gate, caught only by the checksum.
    await writeFile(file, text.replace('"scale":3', '"scale":7'));
    expect(await refusal(() => loadEvolvingWeights(file, D))).toMatchObject({ code: 'STATE_INVALID', message: expect.stringMatching(/sealed\.json fails its checksum/) });
    const byHand = await writeEdited('by-hand.json', (j) => (j.gate.scale = 7));
    expect((await loadEvolvingWeights(byHand, D)).gate.scale).toBe(7);
  });

  it('refuse bad weights at save, instead of writing them', async () => {
    const error = await refusal(() => saveEvolvingWeights(join(dir, 'bad.json'), { ...defaultEvolvingWeights(D), temperature: Number.NaN }));
    expect(error).toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('field "temperature" must be a finite number > 0, got NaN') });
  });

  it('given to an evolving retriever, are refused before the model loads, naming the file', async () => {
    const file = await writeEdited('retriever.json', (j) => delete j.gate);
    const error = await refusal(() => createRetriever('evolving', { encoder: { model: model.dir, device: 'cpu' }, adapter: file }));
    expect(error).toMatchObject({ code: 'STATE_INVALID', message: expect.stringContaining(`${file}: field "gate" is missing`) });
  });

  it('that are valid, feed an evolving retriever', async () => {
    const file = join(dir, 'valid.json');
    await saveEvolvingWeights(file, { ...defaultEvolvingWeights(D), gate: { scale: 4, bias: -1, max: 0.6 } });
    const retriever = await createRetriever('evolving', { encoder: { model: model.dir, device: 'cpu' }, adapter: file });
    try {
      const index = await retriever.index({ id: 'c', units: turns.map((t) => ({ key: t.id, text: t.text, speaker: t.speaker })), questions: [] });
      const scores = await index.scores({ id: 'q', text: 'where did she move', evidence: ['a'], category: '1' });
      expect(scores).toHaveLength(2);
      expect(Array.from(scores).every(Number.isFinite)).toBe(true);
    } finally {
      await retriever.dispose();
    }
  });
});

describe('evolving weights given as an option', () => {
  it.each([
    ['a gate scale that is text', { gate: { scale: 'x', bias: -5, max: 0.5 } }, /option 'weights': field "gate\.scale" must be a finite number, got "x"/],
    ['no gate', { gate: undefined }, /option 'weights': field "gate" is missing/],
    ['a temperature of 0', { temperature: 0 }, /option 'weights': field "temperature" must be a finite number > 0, got 0/],
    ['a NaN projection weight', { projection: Array.from({ length: D * D }, (_, i) => (i === 5 ? Number.NaN : 0)) }, /option 'weights': field "projection" has a non-finite value \(NaN\) at index 5/],
  ])('refuse %s with INVALID_OPTION, instead of NaN embeddings', (_, change, message) => {
    const weights = { ...defaultEvolvingWeights(D), ...change } as unknown as EvolvingWeights;
    const make = () => new EvolvingEncoder(encoder, { weights });
    expect(make).toThrow(message);
    expect(make).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  it('valid ones give finite embeddings', async () => {
    const out = await new EvolvingEncoder(encoder, { weights: { ...defaultEvolvingWeights(D), gate: { scale: 0, bias: 10, max: 1 } } }).stream('s').ingest(turns);
    for (const v of out) expect(v.every(Number.isFinite)).toBe(true);
  });
});
