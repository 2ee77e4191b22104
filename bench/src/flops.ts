import type { BertConfig } from '@evomem/onnx-builder';

/**
 * Useful FLOPs to encode sequences of the given token lengths with a BERT encoder:
 * per layer, the Q/K/V/output projections (4 H^2) and the FFN (2 H I) multiply-adds per
 * token, plus attention scores and context (2 L^2 H) per sequence. Embedding lookups,
 * LayerNorm, softmax and GELU are left out (under 2% on these shapes). Padding is not useful work.
 */
export function encoderFlops(config: BertConfig, lengths: number[]): number {
  const H = config.hidden_size;
  const I = config.intermediate_size;
  let macs = 0;
  for (const L of lengths) macs += L * (4 * H * H + 2 * H * I) + 2 * L * L * H;
  return 2 * macs * config.num_hidden_layers;
}
