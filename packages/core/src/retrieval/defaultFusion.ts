import type { FusionWeights } from './pipeline.js';

/**
 * The pipeline's fusion weights when neither the caller nor the encoder's adapter gives any
 * (another model, or `adapter: false`), per backend. Written by `pnpm train:defaults`
 * (bench/src/trainDefaults.ts) at 3cc45cf: learned by `trainFusion` on both dev
 * files (LoCoMo conv-26 and conv-30, FriendsQA's 9 episodes) with the offline default model
 * and no adapter. The default model's adapter carries its own, learned with it. How the
 * recipe carries to unseen conversations: `pnpm bench:retrieval` (leave one conversation out).
 */
export const DEFAULT_FUSION: Readonly<Record<'static' | 'evolving', Readonly<FusionWeights>>> = {
  static: {
    bm25: 0.2759,
    dense: 0.565719,
    'session-bm25': 0.94286,
    'session-dense': 0.04761,
    'prev-bm25': 0.154705,
    'next-bm25': 0.0762208,
    'prev-dense': 0.168045,
    'next-dense': 0.155903,
    speaker: 0.560555,
    'reply-to-speaker': -0.517209,
    'when-time': 2.38065,
    'date-match': 2.67476
  },
  evolving: {
    bm25: 0.255768,
    dense: 0.636214,
    'session-bm25': 0.970758,
    'session-dense': -0.0405823,
    'prev-bm25': 0.146567,
    'next-bm25': 0.053627,
    'prev-dense': -0.0776464,
    'next-dense': 0.275352,
    speaker: 0.571269,
    'reply-to-speaker': -0.468339,
    'when-time': 2.26616,
    'date-match': 2.38253
  }
};
