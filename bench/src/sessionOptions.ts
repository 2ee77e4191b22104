// What the encoder benchmark's parent and children share: the run settings, the result, and
// the onnxruntime session options both sides get.

export interface ChildConfig {
  runner: 'evomem' | 'transformers.js' | 'tfjs-use-lite';
  modelDir: string;
  threads: number;
  textsFile: string;
  /**
   * How the baseline is called: `input` cuts the texts into input-order batches of `batch`;
   * `sorted` sorts them by token count, batches them, and puts the vectors back in input
   * order; `all` passes every text in one call (the library's default usage).
   */
  order?: 'input' | 'sorted' | 'all';
  batch?: number;
  maxBatchTokens?: number;
  /**
   * Which weights run. evomem: 'int8' is its own quantization of the fp32 graph; for
   * transformers.js, `modelDir` then holds that same file as `onnx/model_int8.onnx`.
   * @default 'fp32'
   */
  dtype?: 'fp32' | 'int8';
  /** evomem only: `true` runs its fused-attention rewrite. @default false (evomem's default: the exported graph) */
  optimize?: boolean;
  /** evomem only: write the full call's vectors here (row-major Float32, little-endian), after timing. */
  vectorsFile?: string;
}

export interface ChildResult {
  seconds: number;
  sentencesPerSecond: number;
  p50BatchMs: number;
  modelCalls: number;
  peakRssMiB: number;
  /** Counted by evomem's encoder; absent for the baselines, whose padding the parent estimates. */
  executedTokens?: number;
  realTokens?: number;
  /** Threads the runtime actually used, where it can say. */
  runtimeThreads?: number;
  /** evomem only: the graph it ran (`encoder.graph`). */
  graph?: { path: string; transform: string };
}

/**
 * The session options evomem opens every CPU session with (packages/core/src/encoder/session.ts),
 * given to transformers.js too, so both sides run the same onnxruntime-node build with the
 * same settings. transformers.js passes `session_options` through to
 * `InferenceSession.create` unchanged (src/backends/onnx.js, createInferenceSession).
 */
export const sessionOptions = (threads: number) => ({
  graphOptimizationLevel: 'all' as const,
  executionMode: 'sequential' as const,
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  enableCpuMemArena: true,
  enableMemPattern: true,
  logSeverityLevel: 3 as const,
});

