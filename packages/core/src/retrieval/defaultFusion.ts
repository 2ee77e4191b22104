import type { FusionWeights } from './pipeline.js';

/**
 * The pipeline's fusion weights when neither the caller nor the encoder's adapter gives any
 * (another model, or `adapter: false`), per backend. Written by `pnpm train:defaults`
 * (bench/src/trainDefaults.ts) at 8c406c2: learned by `trainFusion` on both dev
 * files (LoCoMo conv-26 and conv-30, FriendsQA's 9 episodes) with the offline default model
 * and no adapter. The default model's adapter carries its own, learned with it. How the
 * recipe carries to unseen conversations: `pnpm bench:retrieval` (leave one conversation out).
 */
export const DEFAULT_FUSION: Readonly<Record<'static' | 'evolving', Readonly<FusionWeights>>> = {
  static: {
    bm25: 0.2759,
    dense: 0.565719,
    'session-bm25': 0.94286,
    'session-dense': 0.0476099,
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
    bm25: 0.261548,
    dense: 0.585299,
    'session-bm25': 0.963783,
    'session-dense': 0.00336418,
    'prev-bm25': 0.139337,
    'next-bm25': 0.0595156,
    'prev-dense': -0.0207182,
    'next-dense': 0.252029,
    speaker: 0.690246,
    'reply-to-speaker': -0.428612,
    'when-time': 2.28825,
    'date-match': 2.39247
  }
};
