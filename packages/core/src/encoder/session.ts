import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import { EvomemError } from '../errors.js';

/**
 * Where inference runs. `auto` uses CUDA where an NVIDIA GPU and the CUDA build of
 * onnxruntime-node are both present, else the CPU.
 */
export type Device = 'auto' | 'cpu' | 'cuda' | 'webgpu';

/** What `auto` asks about the machine. Tests pass their own. */
export interface DeviceProbe {
  /** An NVIDIA GPU and its driver are present. */
  nvidiaGpu(): boolean;
  /** onnxruntime-node's CUDA provider library is installed. */
  cudaProvider(): boolean;
}

export interface SessionSettings {
  device: Device;
  /** Threads for one operator; `undefined` means all available cores. */
  threads?: number;
  /** GPU ordinal for `cuda`. */
  deviceId?: number;
  /** @default the real machine: {@link nvidiaGpuPresent} and {@link cudaProviderInstalled} */
  probe?: DeviceProbe;
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
 * True when onnxruntime-node's CUDA provider library is installed beside its binding. Its
 * install script downloads it on Linux x64; pnpm 10 (which runs no install script unless
 * allowed) and `ONNXRUNTIME_NODE_INSTALL=skip` leave the CPU and WebGPU providers alone.
 * Checked before CUDA is tried, because a failed attempt makes onnxruntime print an error
 * log of its own (`Failed to load library libonnxruntime_providers_shared.so`).
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
 * True when the machine has an NVIDIA GPU with its driver, found by the files the driver
 * installs (no process is started): the kernel module's `/proc/driver/nvidia/version` or
 * `/dev/nvidia0`, or WSL's `libcuda.so`. Linux only: onnxruntime-node has a CUDA build for
 * Linux x64 alone, so elsewhere a GPU changes nothing evomem does.
 */
export function nvidiaGpuPresent(): boolean {
  if (process.platform !== 'linux') return false;
  return ['/proc/driver/nvidia/version', '/dev/nvidia0', '/usr/lib/wsl/lib/libcuda.so'].some((path) => existsSync(path));
}

const machine: DeviceProbe = {
  nvidiaGpu: () => process.arch === 'x64' && nvidiaGpuPresent(),
  cudaProvider: cudaProviderInstalled,
};

/** The device `device` resolves to before any session is tried: for 'auto', CUDA when the machine has a GPU and the CUDA build, else the CPU. */
export function plannedDevice(device: Device, probe: DeviceProbe = machine): Exclude<Device, 'auto'> {
  if (device !== 'auto') return device;
  return probe.nvidiaGpu() && probe.cudaProvider() ? 'cuda' : 'cpu';
}

/** One line, once per process: only a machine with a GPU that evomem leaves idle hears about it. */
function warnCpuFallback(reason: string): void {
  if (warnedFallback) return;
  warnedFallback = true;
  process.emitWarning(`evomem runs on CPU: ${reason}. For the GPU, see "GPU" in the @evomem/core README; device: 'cpu' silences this.`, {
    code: 'EVOMEM_CUDA_FALLBACK',
  });
}

/**
 * Opens an onnxruntime session. Settings, and why:
 * - `graphOptimizationLevel: 'all'`: onnxruntime's fusion passes. On the BERT graphs they
 *   fuse the FFN's bias add and Erf-GELU into BiasGelu and the scaled QK^T into FusedMatMul;
 *   the other bias adds, the residual adds and the transposes stay separate (the optimized
 *   graph's node counts are in bench/results/encoder.json, operatorShares).
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
  const probe = settings.probe ?? machine;
  const onCpu = async (): Promise<OpenedSession> => ({ session: await open(['cpu']).catch((e) => rethrowModel(modelPath, e)), device: 'cpu' });

  switch (settings.device) {
    case 'cpu':
      return onCpu();
    case 'cuda':
      if (!probe.cudaProvider()) {
        throw deviceError('cuda', modelPath, new Error('the CUDA build of onnxruntime-node is not installed'), GPU_INSTALL);
      }
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
      if (!probe.nvidiaGpu()) return onCpu();
      if (!probe.cudaProvider()) {
        warnCpuFallback('an NVIDIA GPU is present, but the CUDA build of onnxruntime-node is not installed');
        return onCpu();
      }
      try {
        return { session: await open(cuda), device: 'cuda' };
      } catch (cudaError) {
        warnCpuFallback(`CUDA did not start (${firstLine(cudaError)})`);
        return onCpu();
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
