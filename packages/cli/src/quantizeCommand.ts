import { Encoder, type EncoderOptions } from '@evomem/core';

export interface QuantizeFlags {
  model?: string;
  reduceRange: boolean;
  threads?: number;
}

/**
 * `evomem quantize`: makes (or finds) the int8 graph of a model, as `Encoder.load({ dtype:
 * 'int8' })` would on first use, and says where it is and what it costs in agreement with
 * the fp32 graph.
 */
export async function runQuantize(flags: QuantizeFlags): Promise<void> {
  const options: EncoderOptions = { dtype: 'int8', device: 'cpu', adapter: false };
  if (flags.model) options.model = flags.model;
  if (flags.threads) options.threads = flags.threads;
  if (flags.reduceRange) options.quantization = { reduceRange: true };
  const encoder = await Encoder.load(options);
  try {
    const { graph } = encoder;
    const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
    console.log(`model:   ${encoder.modelId}`);
    console.log(`source:  ${graph.source.path} (${(await encoder.describeModel()).fingerprint.slice(0, 19)}...)`);
    console.log(`int8:    ${graph.path}${graph.cached ? ' (already made)' : ''}`);
    if (graph.quantized) {
      const { quantized, biasFused, weightBytes } = graph.quantized;
      console.log(`weights: ${quantized} matrices, ${mib(weightBytes.before)} MiB -> ${mib(weightBytes.after)} MiB (${biasFused} bias adds folded in)`);
    }
    if (graph.minCosineToSource !== undefined) console.log(`checked: least cosine to the fp32 graph on a probe batch ${graph.minCosineToSource.toFixed(5)}`);
    console.log(
      flags.reduceRange
        ? "Use it with Encoder.load({ dtype: 'int8', quantization: { reduceRange: true } }); the CLI's --dtype int8 runs the 8-bit graph."
        : "Use it with Encoder.load({ dtype: 'int8' }) or --dtype int8.",
    );
  } finally {
    await encoder.dispose();
  }
}
