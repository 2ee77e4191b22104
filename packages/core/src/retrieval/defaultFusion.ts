import type { FusionWeights } from './pipeline.js';

/**
 * The pipeline's fusion weights when neither the caller nor the encoder's adapter gives any
 * (another model, or `adapter: false`), per backend. Written by `pnpm train:defaults`
 * (bench/src/trainDefaults.ts) at 06c451a: learned by `trainFusion` on both dev
 * files (LoCoMo conv-26 and conv-30, FriendsQA's 9 episodes) with the offline default model
 * and no adapter. The default model's adapter carries its own, learned with it. How the
 * recipe carries to unseen conversations: `pnpm bench:retrieval` (leave one conversation out).
 */
export const DEFAULT_FUSION: Readonly<Record<'static' | 'evolving', Readonly<FusionWeights>>> = {
  static: {
    bm25: 0.276372,
    dense: 0.565461,
    'session-bm25': 0.941754,
    'session-dense': 0.0474111,
    'prev-bm25': 0.154776,
    'next-bm25': 0.0767099,
    'prev-dense': 0.168296,
    'next-dense': 0.159297,
    speaker: 0.565452,
    'reply-to-speaker': -0.526661,
    'when-time': 2.11751,
    'date-match': 2.67445
  },
  evolving: {
    bm25: 0.262156,
    dense: 0.583873,
    'session-bm25': 0.96257,
    'session-dense': 0.00394481,
    'prev-bm25': 0.139195,
    'next-bm25': 0.0601104,
    'prev-dense': -0.020149,
    'next-dense': 0.255004,
    speaker: 0.692121,
    'reply-to-speaker': -0.436985,
    'when-time': 2.11057,
    'date-match': 2.39238
  }
};
