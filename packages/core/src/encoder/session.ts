import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { EvomemError } from '../errors.js';

/** Where inference runs. `auto` tries CUDA, then falls back to CPU with one warning. */
export type Device = 'auto' | 'cpu' | 'cuda' | 'webgpu';

export interface SessionSettings {
  device: Device;
  /** Threads for one operator; `undefined` means all available cores. */
  threads?: number;
  /** GPU ordinal for `cuda`. */
  deviceId?: number;
}

export interface OpenedSession {
  session: InferenceSession;
  /** The device the session actually runs on. */
  device: Exclude<Device, 'auto'>;
}

type Ort = typeof import('onnxruntime-node');
let ortModule: Promise<Ort> | undefined;

/** onnxruntime-node, loaded on first use so importing `@evomem/core` stays cheap. */
export function loadOrt(): Promise<Ort> {
  ortModule ??= import('onnxruntime-node').then((m) => ((m as { default?: Ort }).default ?? m) as Ort);
  return ortModule;
}

const GPU_INSTALL =
  'Install the CUDA build of onnxruntime-node: reinstall with ONNXRUNTIME_NODE_INSTALL=cuda12 and allow its install script ' +
  '(pnpm: add onnxruntime-node to onlyBuiltDependencies; npm: do not pass --ignore-scripts), on a machine with an NVIDIA driver and CUDA 12.';

let warnedFallback = false;

/**
 * True when onnxruntime-node's CUDA provider library is installed beside its binding (the
 * default install has only the CPU and WebGPU providers). Checked before `auto` tries CUDA
 * because a failed attempt makes onnxruntime print an error log of its own.
 */
export function cudaProviderInstalled(): boolean {
  try {
    const main = createRequire(import.meta.url).resolve('onnxruntime-node');
    const bin = join(dirname(main), '..', 'bin', 'napi-v6', process.platform, process.arch);
    const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
    return existsSync(join(bin, lib));
  } catch {
    return false;
  }
}

/**
 * Opens an onnxruntime session. Settings, and why:
 * - `graphOptimizationLevel: 'all'`: layout and fusion passes (FusedMatMul, BiasGelu on BERT graphs).
 * - `executionMode: 'sequential'`, `interOpNumThreads: 1`: encoder graphs are one chain of
 *   operators; parallel branches only steal cores from the intra-op GEMMs.
 * - `intraOpNumThreads`: all cores by default; set `threads` when sharing the machine.
 * - `enableCpuMemArena`: reuses activation buffers across batches of similar shape, which the
 *   length-sorted scheduler produces.
 */
export async function openSession(modelPath: string, settings: SessionSettings): Promise<OpenedSession> {
  const ort = await loadOrt();
  const threads = settings.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new EvomemError('INVALID_OPTION', `threads must be a positive integer, got ${String(settings.threads)}.`);
  }
  const base: InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    enableCpuMemArena: true,
    enableMemPattern: true,
    logSeverityLevel: 3,
  };
  const open = (providers: InferenceSession.SessionOptions['executionProviders']) =>
    ort.InferenceSession.create(modelPath, { ...base, executionProviders: providers });
  const cuda = [{ name: 'cuda' as const, deviceId: settings.deviceId ?? 0 }];

  switch (settings.device) {
    case 'cpu':
      return { session: await open(['cpu']).catch((e) => rethrowModel(modelPath, e)), device: 'cpu' };
    case 'cuda':
      try {
        return { session: await open(cuda), device: 'cuda' };
      } catch (error) {
        throw deviceError('cuda', modelPath, error, GPU_INSTALL);
      }
    case 'webgpu':
      try {
        return { session: await open(['webgpu']), device: 'webgpu' };
      } catch (error) {
        throw deviceError('webgpu', modelPath, error, 'WebGPU needs a GPU with Vulkan drivers; use device: "cpu" or "cuda" instead.');
      }
    case 'auto': {
      try {
        if (!cudaProviderInstalled()) throw new Error('the CUDA provider of onnxruntime-node is not installed');
        return { session: await open(cuda), device: 'cuda' };
      } catch (cudaError) {
        const session = await open(['cpu']).catch((e) => rethrowModel(modelPath, e));
        if (!warnedFallback) {
          warnedFallback = true;
          process.emitWarning(
            `CUDA is not available (${firstLine(cudaError)}); evomem runs on CPU. ${GPU_INSTALL} Pass device: 'cpu' to skip the CUDA attempt and this warning.`,
            { code: 'EVOMEM_CUDA_FALLBACK' },
          );
        }
        return { session, device: 'cpu' };
      }
    }
    default:
      throw new EvomemError('INVALID_OPTION', `device must be 'auto', 'cpu', 'cuda' or 'webgpu', got ${JSON.stringify(settings.device)}.`);
  }
}

function deviceError(device: string, modelPath: string, error: unknown, fix: string): EvomemError {
  return new EvomemError('DEVICE_UNAVAILABLE', `Could not open ${modelPath} on ${device}: ${firstLine(error)}. ${fix}`, { cause: error });
}

function rethrowModel(modelPath: string, error: unknown): never {
  throw new EvomemError(
    'MODEL_FILE_INVALID',
    `onnxruntime could not load ${modelPath}: ${firstLine(error)}. The file is not a valid ONNX model (truncated download?); re-download or re-export it.`,
    { cause: error },
  );
}

function firstLine(error: unknown): string {
  return String(error instanceof Error ? error.message : error).split('\n')[0] ?? '';
}
