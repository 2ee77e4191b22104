import { normalizeInPlace } from '../encoder/pooling.js';
import { EvomemError } from '../errors.js';
import { checkOptions, is } from '../util/options.js';
import type { Segment } from './segments.js';

export interface ContextOptions {
  /** Preceding turns of the same session a turn reads as its context. @default 2 */
  turns?: number;
  /**
   * Token budget of the text context (`concat` and `sum` only); never more than leaves the
   * turn itself untruncated.
   * @default 64
   */
  maxTokens?: number;
  /**
   * How the context reaches the turn's embedding.
   * - `mix`: one encoder pass per turn, over the turn's own text (its static embedding). The
   *   context is the normalized sum of the preceding turns' own embeddings, added with
   *   `weight`: normalize(own + weight · context). With the read-out, ingest took 1.2-1.6x
   *   the time of static embedding (`pnpm bench:evolving-cost`); the stream keeps its last
   *   `turns` own embeddings to continue from.
   * - `sum`: the turn is embedded with its context as one text, and that embedding is summed
   *   with the turn's own: two passes, the first about 3x longer.
   * - `concat`: the turn embedded with its context as one text only; it dilutes what the turn
   *   itself says (dates, names).
   *
   * `mix` is the default: better recall@10 than `sum` on both dev files with the read-out
   * (bench/results/evolving.md, evolving-friendsqa.md), at less than half its ingest cost
   * (bench/results/evolving-cost.json).
   * @default 'mix'
   */
  combine?: 'mix' | 'sum' | 'concat';
  /**
   * Weight of the context in `mix` (0: the turn's own embedding alone). 0.5 is the weight
   * chosen leave one conversation out, from 0.25, 0.5, 0.75 and 1, for each of the 11 dev
   * conversations (bench/results/evolving.md, evolving-friendsqa.md).
   * @default 0.5
   */
  weight?: number;
}

/** The context a turn reads when options leave it out. */
export const DEFAULT_CONTEXT = { turns: 2, maxTokens: 64, combine: 'mix', weight: 0.5 } as const satisfies Required<ContextOptions>;

const CONTEXT_SPEC = { turns: is.int(0), maxTokens: is.int(0), combine: is.oneOf('mix', 'sum', 'concat'), weight: is.number(0) };

/** Checks context options (`where` names the caller): known keys, and no option the chosen `combine` would ignore. */
export function checkContextOptions(where: string, context: ContextOptions): void {
  checkOptions(`${where} context`, context, CONTEXT_SPEC);
  const combine = context.combine ?? DEFAULT_CONTEXT.combine;
  const named = `combine '${combine}'${context.combine === undefined ? ' (the default)' : ''}`;
  if (combine === 'mix' && context.maxTokens !== undefined) {
    throw new EvomemError('INVALID_OPTION', `${where} context: option 'maxTokens' budgets the text context of combine 'sum' or 'concat'; ${named} reads no context text. Drop maxTokens, or set combine: 'sum'.`);
  }
  if (combine !== 'mix' && context.weight !== undefined) {
    throw new EvomemError('INVALID_OPTION', `${where} context: option 'weight' weighs the context of combine 'mix'; ${named} embeds it as text. Drop weight, or set combine: 'mix'.`);
  }
}

/**
 * The turn as the encoder reads it, speaker first. Dataset readers and hosts often store
 * the text already prefixed ("Maya: ..."); it is not prefixed twice.
 */
export function ownText(s: Segment): string {
  const speaker = s.speaker ?? 'unknown';
  return s.text.startsWith(`${speaker}:`) ? s.text : `${speaker}: ${s.text}`;
}

/** Positions of the turns before `index` that it reads as context: same session, nearest first, at most `turns`. */
function contextOf(history: readonly Segment[], index: number, turns: number): number[] {
  const out: number[] = [];
  for (let j = index - 1; j >= 0 && out.length < turns && history[j]!.session === history[index]!.session; j--) out.push(j);
  return out;
}

/**
 * `concat` and `sum`: the turn's text with the preceding turns of its session before it,
 * as many as fit `budget` tokens whole.
 */
export function textWithContext(history: readonly Segment[], index: number, turns: number, budget: number, countTokens: (text: string) => number): string {
  const parts: string[] = [];
  let used = 0;
  for (const j of contextOf(history, index, turns)) {
    const line = ownText(history[j]!);
    used += countTokens(line);
    if (used > budget) break;
    parts.unshift(line);
  }
  return [...parts, ownText(history[index]!)].join('\n');
}

/**
 * `mix`: normalize(own + weight · normalize(sum of the context turns' own embeddings)), where
 * `own[i]` is the own embedding of `history[i]`. Summed in a fixed order, so a stream
 * continued from stored own embeddings gives the same vector to the last bit.
 */
export function mixWithContext(history: readonly Segment[], own: readonly Float32Array[], index: number, turns: number, weight: number): Float32Array {
  const base = Float32Array.from(own[index]!);
  const context = contextOf(history, index, turns);
  if (context.length === 0 || weight === 0) return base;
  const sum = new Float32Array(base.length);
  for (const j of context) {
    const e = own[j]!;
    for (let d = 0; d < sum.length; d++) sum[d]! += e[d]!;
  }
  normalizeInPlace(sum);
  for (let d = 0; d < base.length; d++) base[d]! += weight * sum[d]!;
  normalizeInPlace(base);
  return base;
}
