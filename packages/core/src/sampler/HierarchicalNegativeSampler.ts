import type { Encoder } from '../encoder/Encoder.js';
import { EvomemError } from '../errors.js';
import type { EvalDataset } from '../eval/types.js';
import { checkOptions, is } from '../util/options.js';
import { fnv1a } from '../util/random.js';
import { dot } from '../util/vector.js';

/** The three HiNS difficulty tiers. */
export type Tier = 'hard' | 'medium' | 'easy';

export interface SamplerMessage {
  id: string;
  text: string;
  conversation: string;
  speaker?: string;
  session?: string;
  /** ISO 8601; the evolving encoder's segment timestamp when training on it. */
  timestamp?: string;
}

export interface SamplerQuery {
  id: string;
  text: string;
  conversation: string;
  /** Ids of the messages that answer it. */
  evidence: string[];
  /** The person the query is about; defaults to the speaker of most evidence messages. */
  targetSpeaker?: string;
}

/** One training example: a query, one positive, its tiered negatives. */
export interface NegativeGroup {
  queryId: string;
  query: string;
  positiveId: string;
  positive: string;
  negativeIds: string[];
  negatives: string[];
  tiers: Tier[];
}

export interface SamplerOptions {
  /** Negatives per (query, positive). HiNS uses 15. @default 15 */
  negatives?: number;
  /** Share of hard / medium / easy negatives. HiNS: 30 / 30 / 40. @default { hard: 0.3, medium: 0.3, easy: 0.4 } */
  ratios?: Record<Tier, number>;
  /**
   * Candidates more similar than this to the positive (cosine) are dropped as likely false
   * negatives: near-duplicates that answer the query too.
   * @default 0.9
   */
  duplicateThreshold?: number;
  /** Conversations per batch that easy negatives are drawn from (the query's and the next ones). HiNS: 4. @default 4 */
  conversationsPerBatch?: number;
  /** Messages per topic cluster, on average (k = ceil(messages / this)); with no encoder, sessions are the topics. @default 12 */
  topicSize?: number;
  /** Orders candidates within a tier; the same seed gives the same groups. @default 1 */
  seed?: number;
  /**
   * `tiered`: HiNS quotas per tier. `random`: the baseline HiNS is measured against, with
   * negatives drawn uniformly from every non-evidence message of the conversation batch
   * (tiers still labeled, so their natural mix can be reported).
   * @default 'tiered'
   */
  strategy?: 'tiered' | 'random';
}

const SAMPLER_SPEC = {
  negatives: is.int(1),
  ratios: is.object,
  duplicateThreshold: is.number(-1, 1),
  conversationsPerBatch: is.int(1),
  topicSize: is.int(1),
  seed: is.int(0),
  strategy: is.oneOf('tiered', 'random'),
  encoder: { expect: 'an Encoder (await Encoder.load())', test: (v: unknown) => typeof v === 'object' && v !== null && typeof (v as Encoder).embedDocuments === 'function' },
};
const share = is.number(0);
const RATIOS_SPEC = { hard: share, medium: share, easy: share };

/** What `sample` produced, for the report. */
export interface SamplerReport {
  groups: number;
  /** Negatives picked per tier. */
  picked: Record<Tier, number>;
  /** Candidates dropped as near-duplicates of the positive. */
  droppedDuplicates: number;
  /** Groups that got fewer negatives than asked (small conversations). */
  shortGroups: number;
}

/**
 * HiNS hierarchical negative sampling (arXiv 2601.14857): negatives taken from real
 * dialogue in three tiers, for a query with evidence V in conversation C:
 * - hard: messages of C on the query's topic, spoken by someone other than the person the
 *   query is about (at most 2|V|);
 * - medium: the rest of C, minus V and the hard ones (at most |V|);
 * - easy: messages of the other conversations in the batch (at most |V|);
 * then `negatives` per (query, positive) drawn 30 / 30 / 40 from the tiers (a short tier is
 * filled from the next: hard, then medium, then easy). Evidence is never a negative.
 * The paper's caps assume 5-12 evidence messages; LoCoMo's evidence sets hold 1-3, where
 * they would leave 4 negatives instead of 15, so a tier's cap is never below what a group
 * may need from it: its quota plus what the tiers before it could not supply.
 * Topics are k-means clusters of message embeddings (farthest-point start, deterministic),
 * or sessions when no encoder is given.
 *
 * @example
 * const sampler = new HierarchicalNegativeSampler(messages, queries, { encoder });
 * const { groups, report } = await sampler.sample();
 */
export class HierarchicalNegativeSampler {
  readonly #messages: SamplerMessage[];
  readonly #queries: SamplerQuery[];
  readonly #encoder: Encoder | undefined;
  readonly #options: Required<Omit<SamplerOptions, 'ratios'>> & { ratios: Record<Tier, number> };

  constructor(messages: SamplerMessage[], queries: SamplerQuery[], options: SamplerOptions & { encoder?: Encoder } = {}) {
    this.#messages = messages;
    this.#queries = queries;
    checkOptions('new HierarchicalNegativeSampler', options, SAMPLER_SPEC);
    if (options.ratios) checkOptions('new HierarchicalNegativeSampler ratios', options.ratios, RATIOS_SPEC);
    this.#encoder = options.encoder;
    const ratios = options.ratios ?? { hard: 0.3, medium: 0.3, easy: 0.4 };
    const sum = ratios.hard + ratios.medium + ratios.easy;
    if (!(sum > 0)) {
      throw new EvomemError('INVALID_OPTION', `new HierarchicalNegativeSampler: ratios must give hard, medium and easy, numbers >= 0 with a positive sum, got ${JSON.stringify(ratios)}.`);
    }
    this.#options = {
      negatives: options.negatives ?? 15,
      ratios: { hard: ratios.hard / sum, medium: ratios.medium / sum, easy: ratios.easy / sum },
      duplicateThreshold: options.duplicateThreshold ?? 0.9,
      conversationsPerBatch: options.conversationsPerBatch ?? 4,
      topicSize: options.topicSize ?? 12,
      seed: options.seed ?? 1,
      strategy: options.strategy ?? 'tiered',
    };
    const ids = new Set<string>();
    for (const m of messages) {
      if (ids.has(m.id)) throw new EvomemError('INVALID_OPTION', `Message id ${JSON.stringify(m.id)} appears twice; ids must be unique across conversations.`);
      ids.add(m.id);
    }
    for (const q of queries) {
      const missing = q.evidence.filter((e) => !ids.has(e));
      if (missing.length) throw new EvomemError('INVALID_OPTION', `Query ${q.id} cites unknown message ids ${missing.join(', ')}.`);
    }
  }

  /**
   * The natural tier proportions: for each query, the share of its non-evidence candidates
   * in each tier (uncapped), averaged over queries. Usable as `ratios`.
   */
  async estimateRatios(): Promise<Record<Tier, number>> {
    const pools = await this.#pools(false);
    const totals = { hard: 0, medium: 0, easy: 0 };
    for (const p of pools) {
      const n = p.hard.length + p.medium.length + p.easy.length || 1;
      totals.hard += p.hard.length / n;
      totals.medium += p.medium.length / n;
      totals.easy += p.easy.length / n;
    }
    const q = pools.length || 1;
    return { hard: totals.hard / q, medium: totals.medium / q, easy: totals.easy / q };
  }

  /** One group per (query, positive). */
  async sample(): Promise<{ groups: NegativeGroup[]; report: SamplerReport }> {
    const random = this.#options.strategy === 'random';
    const pools = await this.#pools(!random);
    const byId = new Map(this.#messages.map((m) => [m.id, m]));
    const vectors = await this.#vectors();
    const quota = this.#quota();
    const report: SamplerReport = { groups: 0, picked: { hard: 0, medium: 0, easy: 0 }, droppedDuplicates: 0, shortGroups: 0 };
    const groups: NegativeGroup[] = [];
    this.#queries.forEach((q, qi) => {
      const pool = pools[qi]!;
      for (const positiveId of q.evidence) {
        const positive = byId.get(positiveId)!;
        const notDuplicate = (id: string) => {
          if (!vectors) return true;
          const dup = dot(vectors.get(id)!, vectors.get(positiveId)!) > this.#options.duplicateThreshold;
          if (dup) report.droppedDuplicates++;
          return !dup;
        };
        const tiers: Record<Tier, string[]> = {
          hard: this.#order(pool.hard.filter(notDuplicate), `${q.id}/${positiveId}/hard`),
          medium: this.#order(pool.medium.filter(notDuplicate), `${q.id}/${positiveId}/medium`),
          easy: this.#order(pool.easy.filter(notDuplicate), `${q.id}/${positiveId}/easy`),
        };
        const picked: { id: string; tier: Tier }[] = [];
        if (random) {
          const tierOf = new Map<string, Tier>();
          for (const tier of ['hard', 'medium', 'easy'] as const) for (const id of pool[tier]) tierOf.set(id, tier);
          for (const id of this.#order([...tierOf.keys()], `${q.id}/${positiveId}/random`)) {
            if (picked.length === this.#options.negatives) break;
            if (notDuplicate(id)) picked.push({ id, tier: tierOf.get(id)! });
          }
        }
        let carry = 0;
        for (const tier of random ? [] : (['hard', 'medium', 'easy'] as const)) {
          const want = quota[tier] + carry;
          const take = tiers[tier].slice(0, want);
          picked.push(...take.map((id) => ({ id, tier })));
          carry = want - take.length;
        }
        if (picked.length < this.#options.negatives) report.shortGroups++;
        for (const p of picked) report.picked[p.tier]++;
        groups.push({
          queryId: q.id,
          query: q.text,
          positiveId,
          positive: positive.text,
          negativeIds: picked.map((p) => p.id),
          negatives: picked.map((p) => byId.get(p.id)!.text),
          tiers: picked.map((p) => p.tier),
        });
      }
    });
    report.groups = groups.length;
    return { groups, report };
  }

  /** Hard / medium / easy candidate ids per query, capped (HiNS) or not (for ratios). */
  async #pools(capped: boolean): Promise<Record<Tier, string[]>[]> {
    const topics = await this.#topics();
    const quota = this.#quota();
    const conversations = [...new Set(this.#messages.map((m) => m.conversation))];
    const inConversation = new Map<string, SamplerMessage[]>();
    for (const m of this.#messages) {
      const list = inConversation.get(m.conversation) ?? [];
      list.push(m);
      inConversation.set(m.conversation, list);
    }
    const speakerOf = new Map(this.#messages.map((m) => [m.id, m.speaker]));
    return this.#queries.map((q) => {
      const evidence = new Set(q.evidence);
      const target = q.targetSpeaker ?? mostCommon(q.evidence.map((e) => speakerOf.get(e)).filter((s): s is string => s !== undefined));
      const queryTopics = new Set(q.evidence.map((e) => topics.get(e)));
      const own = (inConversation.get(q.conversation) ?? []).filter((m) => !evidence.has(m.id));
      const v = q.evidence.length;
      const hard = own.filter((m) => queryTopics.has(topics.get(m.id)) && m.speaker !== target).map((m) => m.id);
      const hardCapped = capped ? this.#order(hard, `${q.id}/hardpool`).slice(0, Math.max(2 * v, quota.hard)) : hard;
      const hardSet = new Set(hardCapped);
      const medium = own.filter((m) => !hardSet.has(m.id)).map((m) => m.id);
      const at = conversations.indexOf(q.conversation);
      const batch = new Set(Array.from({ length: this.#options.conversationsPerBatch - 1 }, (_, i) => conversations[(at + 1 + i) % conversations.length]).filter((c) => c !== q.conversation));
      const easy = this.#messages.filter((m) => batch.has(m.conversation)).map((m) => m.id);
      return {
        hard: hardCapped,
        medium: capped ? this.#order(medium, `${q.id}/mediumpool`).slice(0, Math.max(v, quota.medium + quota.hard)) : medium,
        easy: capped ? this.#order(easy, `${q.id}/easypool`).slice(0, Math.max(v, this.#options.negatives)) : easy,
      };
    });
  }

  /** Negatives per tier for one group, by largest remainder. */
  #quota(): Record<Tier, number> {
    const n = this.#options.negatives;
    const tiers = ['hard', 'medium', 'easy'] as const;
    const exact = tiers.map((t) => n * this.#options.ratios[t]);
    const floor = exact.map(Math.floor);
    let left = n - floor.reduce((a, b) => a + b, 0);
    const order = tiers.map((_, i) => i).sort((a, b) => exact[b]! - floor[b]! - (exact[a]! - floor[a]!) || a - b);
    for (const i of order) if (left-- > 0) floor[i]!++;
    return { hard: floor[0]!, medium: floor[1]!, easy: floor[2]! };
  }

  /** Topic of each message: k-means cluster per conversation, or its session without an encoder. */
  async #topics(): Promise<Map<string, string>> {
    const vectors = await this.#vectors();
    const topics = new Map<string, string>();
    const conversations = new Map<string, SamplerMessage[]>();
    for (const m of this.#messages) {
      const list = conversations.get(m.conversation);
      if (list) list.push(m);
      else conversations.set(m.conversation, [m]);
    }
    for (const [conversation, messages] of conversations) {
      if (!vectors) {
        for (const m of messages) topics.set(m.id, `${conversation}/session:${m.session ?? ''}`);
        continue;
      }
      const k = Math.max(1, Math.ceil(messages.length / this.#options.topicSize));
      const labels = kMeans(messages.map((m) => vectors.get(m.id)!), k);
      messages.forEach((m, i) => topics.set(m.id, `${conversation}/topic:${labels[i]}`));
    }
    return topics;
  }

  #cache: Promise<Map<string, Float32Array> | undefined> | undefined;
  #vectors(): Promise<Map<string, Float32Array> | undefined> {
    this.#cache ??= (async () => {
      if (!this.#encoder) return undefined;
      const vectors = await this.#encoder.embedDocuments(this.#messages.map((m) => m.text));
      return new Map(this.#messages.map((m, i) => [m.id, vectors[i]!]));
    })();
    return this.#cache;
  }

  /** A seeded, deterministic order of ids (FNV-1a of seed, salt and id). */
  #order(ids: string[], salt: string): string[] {
    const key = (id: string) => fnv1a(`${this.#options.seed}\u0000${salt}\u0000${id}`);
    return ids.map((id) => ({ id, k: key(id) })).sort((a, b) => a.k - b.k || (a.id < b.id ? -1 : 1)).map((x) => x.id);
  }
}

/** Groups as sentence-transformers / FlagEmbedding fine-tuning JSONL: `{"query", "pos": [...], "neg": [...]}` per line. */
export function toTrainingJsonl(groups: readonly NegativeGroup[]): string {
  return groups.map((g) => JSON.stringify({ query: g.query, pos: [g.positive], neg: g.negatives })).join('\n') + (groups.length ? '\n' : '');
}

/**
 * Sampler input from a LoCoMo dataset read with turn units: its QA when present, and
 * otherwise (or as well, `queries: 'both'`) its observation facts as queries whose
 * positive is the turn each fact cites.
 */
export function samplerInputFromDataset(
  turns: EvalDataset,
  observations?: EvalDataset,
): { messages: SamplerMessage[]; queries: SamplerQuery[] } {
  if (turns.unit !== 'turn') throw new EvomemError('INVALID_OPTION', `The sampler needs a dataset read with turn units, got ${turns.unit}.`);
  const messages: SamplerMessage[] = turns.corpora.flatMap((c) =>
    c.units.map((u) => ({
      id: `${c.id}/${u.key}`,
      text: u.text,
      conversation: c.id,
      ...(u.speaker ? { speaker: u.speaker } : {}),
      ...(u.session ? { session: u.session } : {}),
      ...(u.dateTime ? { timestamp: u.dateTime } : {}),
    })),
  );
  const known = new Set(messages.map((m) => m.id));
  const queries: SamplerQuery[] = turns.corpora.flatMap((c) =>
    c.questions.map((q) => ({ id: q.id, text: q.text, conversation: c.id, evidence: q.evidence.map((e) => `${c.id}/${e}`).filter((e) => known.has(e)) })),
  );
  for (const c of observations?.corpora ?? []) {
    c.units.forEach((u, i) => {
      const evidence = `${c.id}/${u.key}`;
      if (known.has(evidence)) queries.push({ id: `${c.id}#obs${i}`, text: u.text, conversation: c.id, evidence: [evidence], ...(u.speaker ? { targetSpeaker: u.speaker } : {}) });
    });
  }
  return { messages, queries: queries.filter((q) => q.evidence.length > 0) };
}

/** Deterministic k-means (cosine on unit vectors) with farthest-point initialization. */
function kMeans(vectors: Float32Array[], k: number, iterations = 20): number[] {
  const n = vectors.length;
  if (n === 0) return [];
  const D = vectors[0]!.length;
  const centroids: Float32Array[] = [Float32Array.from(vectors[0]!)];
  while (centroids.length < Math.min(k, n)) {
    let far = 0;
    let farSim = Infinity;
    vectors.forEach((v, i) => {
      const best = Math.max(...centroids.map((c) => dot(c, v)));
      if (best < farSim) {
        farSim = best;
        far = i;
      }
    });
    centroids.push(Float32Array.from(vectors[far]!));
  }
  const labels = new Array<number>(n).fill(0);
  for (let it = 0; it < iterations; it++) {
    let changed = false;
    vectors.forEach((v, i) => {
      let best = 0;
      let bestSim = -Infinity;
      centroids.forEach((c, j) => {
        const s = dot(c, v);
        if (s > bestSim) {
          bestSim = s;
          best = j;
        }
      });
      if (labels[i] !== best) changed = true;
      labels[i] = best;
    });
    centroids.forEach((c, j) => {
      c.fill(0);
      vectors.forEach((v, i) => {
        if (labels[i] === j) for (let d = 0; d < D; d++) c[d]! += v[d]!;
      });
      const norm = Math.sqrt(dot(c, c)) || 1;
      for (let d = 0; d < D; d++) c[d]! /= norm;
    });
    if (!changed && it > 0) break;
  }
  return labels;
}


function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}
