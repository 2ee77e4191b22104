import { writeFile } from 'node:fs/promises';
import { Encoder, toTrainingJsonl, type EncoderOptions } from '@evomem/core';
import { mineDataset, type MiningFlags } from './mining.js';
import { inputFile, outputFile } from './userErrors.js';

export interface MineFlags extends MiningFlags {
  out: string;
  model?: string;
  device: EncoderOptions['device'];
}

/** `evomem mine`: HiNS tiered negatives from a conversation dataset, as fine-tuning JSONL. */
export async function runMine(flags: MineFlags): Promise<void> {
  await inputFile(flags.data, '--data');
  await outputFile(flags.out, '--out');
  const encoder = await Encoder.load({ device: flags.device, ...(flags.model ? { model: flags.model } : {}) });
  try {
    const { groups } = await mineDataset(flags, encoder);
    await writeFile(flags.out, toTrainingJsonl(groups));
    console.log(`wrote ${groups.length} lines to ${flags.out}`);
  } finally {
    await encoder.dispose();
  }
}
