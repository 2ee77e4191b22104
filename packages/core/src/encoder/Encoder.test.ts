import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvomemError } from '../errors.js';
import { Encoder } from './Encoder.js';
import { cosine, norm, tinyModel } from './fixtures.js';
import { cudaProviderInstalled, nvidiaGpuPresent } from './session.js';

let model: { dir: string; cleanup: () => Promise<void> };
let encoder: Encoder;

beforeAll(async () => {
  model = await tinyModel();
  encoder = await Encoder.load({ model: model.dir, device: 'cpu', threads: 1 });
});
afterAll(async () => {
  await encoder.dispose();
  await model.cleanup();
});

const texts = ['what did she say about it last week', 'the agent will remember', 'memory', 'and', 'did she say what the memory agent said'];

describe('Encoder: vectors', () => {
  it('returns one unit vector of the model width per text, in input order', async () => {
    const vectors = await encoder.embed(texts);
    expect(vectors).toHaveLength(texts.length);
    for (const v of vectors) {
      expect(v).toBeInstanceOf(Float32Array);
      expect(v).toHaveLength(32);
      expect(norm(v)).toBeCloseTo(1, 5);
    }
    expect(encoder.dimensions).toBe(32);
    expect(cosine(vectors[0]!, vectors[1]!)).toBeLessThan(0.99);
  });

  it('gives the same vector for a text in a batch as alone', async () => {
    const batch = await encoder.embed(texts);
    for (let i = 0; i < texts.length; i++) {
      const [single] = await encoder.embed([texts[i]!]);
      expect(cosine(batch[i]!, single!)).toBeGreaterThan(0.99999);
    }
  });

  it('returns the same numbers from embedMatrix as one contiguous buffer', async () => {
    const matrix = await encoder.embedMatrix(texts);
    const vectors = await encoder.embed(texts);
    expect(matrix.rows).toBe(texts.length);
    expect(matrix.dimensions).toBe(32);
    expect(matrix.data).toHaveLength(texts.length * 32);
    for (let i = 0; i < texts.length; i++) expect(Array.from(matrix.data.subarray(i * 32, (i + 1) * 32))).toEqual(Array.from(vectors[i]!));
  });

  it('returns [] for []', async () => {
    expect(await encoder.embed([])).toEqual([]);
  });

  it('embeds empty and whitespace-only text to a valid unit vector (the special tokens alone)', async () => {
    const [empty, blank] = await encoder.embed(['', '  \n\t ']);
    expect(norm(empty!)).toBeCloseTo(1, 5);
    expect(cosine(empty!, blank!)).toBeGreaterThan(0.99999);
  });

  it('throws INVALID_OPTION naming the method and the index of a non-string input', async () => {
    await expect(encoder.embed(['ok', 42 as unknown as string])).rejects.toThrow(new EvomemError('INVALID_OPTION', 'Encoder.embed: texts[1] must be a string, got 42.'));
    await expect(encoder.embed('just a string' as unknown as string[])).rejects.toMatchObject({ code: 'INVALID_OPTION', message: 'Encoder.embed takes an array of strings, got "just a string".' });
    await expect(encoder.embedQuery(['a'] as unknown as string)).rejects.toMatchObject({ code: 'INVALID_OPTION', message: 'Encoder.embedQuery takes one text (a string), got an array of 1.' });
  });

  it('resolves 1,000 concurrent single-text calls in order, gathered into a few shared batches', async () => {
    const inputs = Array.from({ length: 1000 }, (_, i) => `memory ${i} ${'agent '.repeat(i % 13)}`);
    const before = encoder.stats.batches;
    const heapBefore = process.memoryUsage().heapUsed;
    const results = await Promise.all(inputs.map((t) => encoder.embed([t])));
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    const batched = await encoder.embed(inputs);
    results.forEach(([v], i) => expect(cosine(v!, batched[i]!)).toBeGreaterThan(0.99999));
    // Gathered: far fewer model calls than calls, with little padding.
    expect(encoder.stats.batches - before).toBeLessThanOrEqual(40);
    // Bounded memory: the calls hold their vectors (1,000 x 32 floats), not copies of batches.
    expect(heapGrowth).toBeLessThan(64 * 1024 * 1024);
  });

  it('counts real and executed tokens; sorting keeps padding small', async () => {
    const e = await Encoder.load({ model: model.dir, device: 'cpu', threads: 1 });
    await e.embed(Array.from({ length: 300 }, (_, i) => 'memory '.repeat(1 + (i % 40))));
    const { realTokens, executedTokens, rows } = e.stats;
    expect(rows).toBe(300);
    expect(executedTokens / realTokens).toBeLessThan(1.1);
    await e.dispose();
  });
});

describe('Encoder: overflow', () => {
  const long = 'memory agent '.repeat(60);

  it('truncates long text by default, keeping the head', async () => {
    const [truncated] = await encoder.embed([long]);
    const [head] = await encoder.embed(['memory agent '.repeat(31)]);
    expect(encoder.maxLength).toBe(64);
    expect(cosine(truncated!, head!)).toBeGreaterThan(0.99999);
  });

  it("throws INPUT_TOO_LONG naming the index and length with overflow: 'error'", async () => {
    const strict = await Encoder.load({ model: model.dir, device: 'cpu', overflow: 'error' });
    const error = await strict.embed(['short', long]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EvomemError);
    expect((error as EvomemError).code).toBe('INPUT_TOO_LONG');
    expect((error as EvomemError).message).toMatch(/texts\[1\] is 122 tokens; the model takes at most 64/);
    await strict.dispose();
  });

  it("embeds every window and averages them with overflow: 'chunk'", async () => {
    const chunked = await Encoder.load({ model: model.dir, device: 'cpu', overflow: 'chunk', normalize: false });
    const raw = await Encoder.load({ model: model.dir, device: 'cpu', normalize: false });
    const [whole] = await chunked.embed([long]);
    // 120 content tokens in windows of 62: 62 + 58, each embedded with its own [CLS]/[SEP].
    const [first, second] = await raw.embed(['memory agent '.repeat(31), 'memory agent '.repeat(29)]);
    const expected = first!.map((v, d) => (64 * v + 60 * second![d]!) / 124);
    expect(cosine(whole!, expected)).toBeGreaterThan(0.99999);
    await chunked.dispose();
    await raw.dispose();
  });

  it('honours a maxLength option below the model limit', async () => {
    const short = await Encoder.load({ model: model.dir, device: 'cpu', maxLength: 8, overflow: 'error' });
    await expect(short.embed(['memory '.repeat(7)])).rejects.toThrow(/texts\[0\] is 9 tokens; the model takes at most 8/);
    await short.dispose();
  });
});

describe('Encoder: pooling, dimensions, prompts', () => {
  it('truncates to the first N dimensions and renormalizes (Matryoshka)', async () => {
    const small = await Encoder.load({ model: model.dir, device: 'cpu', dimensions: 8 });
    const [full] = await encoder.embed([texts[0]!]);
    const [cut] = await small.embed([texts[0]!]);
    expect(cut).toHaveLength(8);
    expect(small.dimensions).toBe(8);
    expect(norm(cut!)).toBeCloseTo(1, 5);
    expect(cosine(cut!, full!.subarray(0, 8))).toBeGreaterThan(0.99999);
    await small.dispose();
  });

  it('rejects dimensions wider than the model', async () => {
    await expect(Encoder.load({ model: model.dir, device: 'cpu', dimensions: 33 })).rejects.toThrow(/dimensions 33 exceeds the model's width 32/);
  });

  it('leaves vectors unnormalized with normalize: false', async () => {
    const raw = await Encoder.load({ model: model.dir, device: 'cpu', normalize: false });
    const [v] = await raw.embed([texts[0]!]);
    expect(Math.abs(norm(v!) - 1)).toBeGreaterThan(0.01);
    await raw.dispose();
  });

  it("reads the pooling mode from 1_Pooling/config.json", async () => {
    const cls = await tinyModel({ pooling: 'cls' });
    const e = await Encoder.load({ model: cls.dir, device: 'cpu' });
    const mean = await Encoder.load({ model: cls.dir, device: 'cpu', pooling: 'mean' });
    expect(e.pooling).toBe('cls');
    const [a] = await e.embed([texts[0]!]);
    const [b] = await mean.embed([texts[0]!]);
    expect(cosine(a!, b!)).toBeLessThan(0.999);
    await Promise.all([e.dispose(), mean.dispose(), cls.cleanup()]);
  });

  it('applies the declared query and document prompts in embedQuery and embedDocuments', async () => {
    const prompted = await tinyModel({ prompts: { query: 'what did: ', document: 'memory: ' } });
    const e = await Encoder.load({ model: prompted.dir, device: 'cpu' });
    expect(e.queryPrompt).toBe('what did: ');
    const q = await e.embedQuery('she say');
    const [d] = await e.embedDocuments(['she say']);
    const [plainQ, plainD] = await e.embed(['what did: she say', 'memory: she say']);
    expect(cosine(q, plainQ!)).toBeGreaterThan(0.99999);
    expect(cosine(d!, plainD!)).toBeGreaterThan(0.99999);
    const overridden = await Encoder.load({ model: prompted.dir, device: 'cpu', queryPrompt: '' });
    expect(cosine(await overridden.embedQuery('she say'), (await e.embed(['she say']))[0]!)).toBeGreaterThan(0.99999);
    await Promise.all([e.dispose(), overridden.dispose(), prompted.cleanup()]);
  });

  it("uses the family's known query instruction for bge models without declared prompts", async () => {
    const bge = await tinyModel({ name: 'bge-small-en-v1.5' });
    const e = await Encoder.load({ model: bge.dir, device: 'cpu' });
    expect(e.queryPrompt).toBe('Represent this sentence for searching relevant passages: ');
    expect(e.documentPrompt).toBe('');
    await Promise.all([e.dispose(), bge.cleanup()]);
  });
});

describe('Encoder: cancellation and lifecycle', () => {
  it('rejects a call whose signal aborts, and serves the other calls', async () => {
    const controller = new AbortController();
    const many = Array.from({ length: 2000 }, (_, i) => `memory ${i}`);
    const cancelled = encoder.embed(many, { signal: controller.signal });
    const other = encoder.embed(['agent']);
    controller.abort(new Error('stop'));
    await expect(cancelled).rejects.toThrow('stop');
    expect((await other)[0]).toHaveLength(32);
  });

  it('rejects calls after dispose with DISPOSED', async () => {
    const e = await Encoder.load({ model: model.dir, device: 'cpu' });
    await e.dispose();
    await expect(e.embed(['x'])).rejects.toMatchObject({ code: 'DISPOSED' });
  });
});

describe('Encoder: bad model folders', () => {
  const codeOf = (p: Promise<unknown>) => p.then(() => 'resolved', (e: EvomemError) => `${e.code}: ${e.message}`);

  it('names a missing folder', async () => {
    expect(await codeOf(Encoder.load({ model: '/nonexistent/model-dir', device: 'cpu' }))).toMatch(/^MODEL_NOT_FOUND: Model folder not found: \/nonexistent\/model-dir/);
  });

  it('names each missing or corrupt file and what was expected', async () => {
    const m = await tinyModel();
    try {
      await rm(join(m.dir, 'tokenizer.json'));
      expect(await codeOf(Encoder.load({ model: m.dir, device: 'cpu' }))).toMatch(/^MODEL_FILE_MISSING: Missing .*tokenizer\.json: expected the Hugging Face tokenizer/);
      await writeFile(join(m.dir, 'tokenizer.json'), '{"version": "1.0", "model": ');
      expect(await codeOf(Encoder.load({ model: m.dir, device: 'cpu' }))).toMatch(/^MODEL_FILE_INVALID: .*tokenizer\.json is not valid JSON/);
      await rm(join(m.dir, 'tokenizer.json'));
      const fresh = await tinyModel();
      await writeFile(join(m.dir, 'tokenizer.json'), await (await import('node:fs/promises')).readFile(join(fresh.dir, 'tokenizer.json')));
      await fresh.cleanup();
      await writeFile(join(m.dir, 'onnx', 'model.onnx'), Buffer.from('not a protobuf at all'));
      expect(await codeOf(Encoder.load({ model: m.dir, device: 'cpu' }))).toMatch(/^MODEL_FILE_INVALID: onnxruntime could not load .*onnx\/model\.onnx/);
      expect(await codeOf(Encoder.load({ model: m.dir, device: 'cpu', dtype: 'int8' }))).toMatch(/^MODEL_FILE_INVALID: .*onnx\/model\.onnx is not an ONNX model .*truncated.*re-download or re-export it/);
      await rm(join(m.dir, 'onnx'), { recursive: true });
      expect(await codeOf(Encoder.load({ model: m.dir, device: 'cpu' }))).toMatch(/^MODEL_FILE_MISSING: No ONNX graph for dtype 'fp32' .*expected onnx\/model\.onnx or model\.onnx/);
    } finally {
      await m.cleanup();
    }
  });

  it('points to the dtype when only a quantized graph exists', async () => {
    const m = await tinyModel({ modelFile: 'model_quantized.onnx' });
    expect(await codeOf(Encoder.load({ model: m.dir, device: 'cpu' }))).toMatch(/Found onnx\/model_quantized\.onnx \(dtype: 'q8'\); pass that dtype/);
    const e = await Encoder.load({ model: m.dir, device: 'cpu', dtype: 'q8' });
    expect(await e.embed(['memory'])).toHaveLength(1);
    await Promise.all([e.dispose(), m.cleanup()]);
  });

  it('loads a graph at the folder root as well as under onnx/', async () => {
    const m = await tinyModel({ layout: 'root' });
    const e = await Encoder.load({ model: m.dir, device: 'cpu' });
    expect(e.dimensions).toBe(32);
    await Promise.all([e.dispose(), m.cleanup()]);
  });

  it('rejects invalid options by name', async () => {
    await expect(Encoder.load({ model: model.dir, threads: 0 })).rejects.toThrow("Encoder.load: option 'threads' must be a positive integer, got 0.");
    await expect(Encoder.load({ model: model.dir, overflow: 'drop' as 'error' })).rejects.toThrow(`option 'overflow' must be "truncate", "error" or "chunk", got "drop".`);
  });
});

describe('Encoder: devices', () => {
  // Which of these run depends on the machine; a skipped one says why in the report.
  const gpu = nvidiaGpuPresent();
  const cudaBuild = cudaProviderInstalled();

  it("fails device: 'cuda' with the install instructions when the CUDA build is missing", async ({ skip }) => {
    skip(cudaBuild, 'the CUDA build of onnxruntime-node is installed here');
    const result = await Encoder.load({ model: model.dir, device: 'cuda' }).catch((e: EvomemError) => e);
    expect(result).toMatchObject({ code: 'DEVICE_UNAVAILABLE' });
    expect((result as EvomemError).message).toMatch(/ONNXRUNTIME_NODE_INSTALL=cuda12/);
  });

  it("runs device: 'cuda' and 'auto' on the GPU where a GPU and the CUDA build are present", async ({ skip }) => {
    skip(!(gpu && cudaBuild), `needs an NVIDIA GPU (${gpu ? 'found' : 'none'}) and the CUDA build (${cudaBuild ? 'found' : 'none'})`);
    const cuda = await Encoder.load({ model: model.dir, device: 'cuda' });
    const auto = await Encoder.load({ model: model.dir });
    expect([cuda.device, auto.device]).toEqual(['cuda', 'cuda']);
    const [onGpu] = await cuda.embed(['memory']);
    const [onCpu] = await encoder.embed(['memory']);
    expect(cosine(onGpu!, onCpu!)).toBeGreaterThan(0.999);
    await Promise.all([cuda.dispose(), auto.dispose()]);
  });

  // The GPU-without-CUDA-build case (one short warning) is in session.test.ts, with an injected probe.
  it("runs 'auto' on CPU without a warning where there is no NVIDIA GPU", async ({ skip }) => {
    skip(gpu, 'this machine has an NVIDIA GPU');
    const warnings: Error[] = [];
    const listen = (w: Error) => warnings.push(w);
    process.on('warning', listen);
    const a = await Encoder.load({ model: model.dir, device: 'auto' });
    const b = await Encoder.load({ model: model.dir });
    await new Promise((r) => setImmediate(r));
    process.off('warning', listen);
    expect([a.device, b.device]).toEqual(['cpu', 'cpu']);
    expect(warnings.filter((w) => (w as NodeJS.ErrnoException).code === 'EVOMEM_CUDA_FALLBACK')).toEqual([]);
    expect(await a.embed(['memory'])).toHaveLength(1);
    await Promise.all([a.dispose(), b.dispose()]);
  });
});
