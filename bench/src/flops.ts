import type { BertConfig } from '@evomem/onnx-builder';

/** Useful FLOPs to encode sequences of the given token lengths. */
export type FlopModel = (lengths: number[]) => number;

/**
 * A BERT encoder: per layer, the Q/K/V/output projections (4 H^2) and the FFN (2 H I)
 * multiply-adds per token, plus attention scores and context (2 L^2 H) per sequence.
 * Embedding lookups, LayerNorm, softmax and GELU are left out (under 2% on these shapes).
 * Padding is not useful work.
 */
export function bertFlops(config: BertConfig): FlopModel {
  const H = config.hidden_size;
  const I = config.intermediate_size;
  return (lengths) => {
    let macs = 0;
    for (const L of lengths) macs += L * (4 * H * H + 2 * H * I) + 2 * L * L * H;
    return 2 * macs * config.num_hidden_layers;
  };
}

/**
 * Universal Sentence Encoder lite: layer 0 (256 wide: QKV 256x768, output 256x512, residual
 * dense 256x512, FFN 512x1536x2), layer 1 (512 wide: QKV 512x1536, output 512x512, FFN),
 * attention 2 L^2 d per layer, and the 512x512 tanh layer once per sentence.
 */
export const useLiteFlops: FlopModel = (lengths) => {
  const perToken = 256 * 768 + 256 * 512 + 256 * 512 + 2 * 512 * 1536 + (512 * 1536 + 512 * 512 + 2 * 512 * 1536);
  let macs = 0;
  for (const L of lengths) macs += L * perToken + 2 * L * L * (256 + 512) + 512 * 512;
  return 2 * macs;
};
