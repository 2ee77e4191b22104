import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { tinyModel } from './fixtures.js';
import type { DeviceProbe } from './session.js';

let model: { dir: string; cleanup: () => Promise<void> };
let onnx: string;
beforeAll(async () => {
  model = await tinyModel();
  onnx = join(model.dir, 'onnx', 'model.onnx');
});
afterAll(() => model.cleanup());

// The fallback warning is once per process, so each test gets a fresh copy of the module.
let session: typeof import('./session.js');
beforeEach(async () => {
  vi.resetModules();
  session = await import('./session.js');
});

const probe = (nvidiaGpu: boolean, cudaProvider: boolean): DeviceProbe => ({ nvidiaGpu: () => nvidiaGpu, cudaProvider: () => cudaProvider });

/** The EVOMEM_CUDA_FALLBACK warnings emitted during `run`, kept out of the test log. */
async function fallbackWarnings(run: () => Promise<unknown>): Promise<string[]> {
  const emit = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
  try {
    await run();
    return emit.mock.calls
      .filter(([, options]) => (options as { code?: string } | undefined)?.code === 'EVOMEM_CUDA_FALLBACK')
      .map(([message]) => String(message));
  } finally {
    emit.mockRestore();
  }
}

/** The providers of every session opened during `run`: CUDA must not even be tried where it cannot work. */
async function providersTried(run: () => Promise<unknown>): Promise<string[]> {
  const { InferenceSession } = await session.loadOrt();
  const create = vi.spyOn(InferenceSession, 'create');
  try {
    await run();
    return create.mock.calls.flatMap((call) => {
      const options = call.at(-1) as { executionProviders?: (string | { name: string })[] };
      return (options.executionProviders ?? []).map((p) => (typeof p === 'string' ? p : p.name));
    });
  } finally {
    create.mockRestore();
  }
}

async function openThrice(settings: Parameters<typeof session.openSession>[1]): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const opened = await session.openSession(onnx, settings);
    expect(opened.device).toBe('cpu');
    await opened.session.release();
  }
}

describe("device: 'auto'", () => {
  it('runs on CPU without a word, and without trying CUDA, where there is no NVIDIA GPU', async () => {
    let providers: string[] = [];
    const warnings = await fallbackWarnings(async () => {
      providers = await providersTried(() => openThrice({ device: 'auto', threads: 1, probe: probe(false, true) }));
    });
    expect(warnings).toEqual([]);
    expect(providers).toEqual(['cpu', 'cpu', 'cpu']);
  });

  it('says once, in one line, that a GPU is idle because the CUDA build is not installed', async () => {
    let providers: string[] = [];
    const warnings = await fallbackWarnings(async () => {
      providers = await providersTried(() => openThrice({ device: 'auto', threads: 1, probe: probe(true, false) }));
    });
    expect(providers).toEqual(['cpu', 'cpu', 'cpu']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).not.toContain('\n');
    expect(warnings[0]).toMatch(/NVIDIA GPU is present, but the CUDA build of onnxruntime-node is not installed/);
    expect(warnings[0]).toMatch(/device: 'cpu' silences this/);
  });
});

describe("device: 'cuda'", () => {
  it('fails with the install instructions, without trying onnxruntime, when the CUDA build is missing', async () => {
    let error: unknown;
    const providers = await providersTried(async () => {
      error = await session.openSession(onnx, { device: 'cuda', threads: 1, probe: probe(true, false) }).catch((e: unknown) => e);
    });
    expect(providers).toEqual([]);
    expect(error).toMatchObject({ code: 'DEVICE_UNAVAILABLE' });
    expect((error as Error).message).toMatch(/the CUDA build of onnxruntime-node is not installed.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
  });
});
