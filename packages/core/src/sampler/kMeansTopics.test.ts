import { describe, expect, it } from 'vitest';
import type { Encoder } from '../encoder/Encoder.js';
import { HierarchicalNegativeSampler, type SamplerMessage } from './HierarchicalNegativeSampler.js';

// HiNS with an encoder, the path every benchmark takes: topics are k-means clusters of the
// message embeddings, not sessions. The embeddings here are made so the two clusters are
// known: topic X lies along axis 0, topic Y along axis 1, and each message adds its own
// offset on one of axes 2..13 (cosine 0.74 within a topic, at most 0.26 across, never above
// the 0.9 duplicate threshold). Topics cut across sessions, so a session-as-topic sampler
// picks other messages.
const D = 16;
const vector = (axis: number, offset: number) => {
  const v = new Float32Array(D);
  v[axis] = 1;
  v[offset] = 0.6;
  const n = Math.hypot(1, 0.6);
  return v.map((x) => x / n);
};

// Conversation A, 24 messages (topicSize 12: k = 2): message i is on topic X when i % 4 < 2,
// by Ann when i is even, Bob when odd, in session 1 for i < 12 and 2 after.
const topicOf = (i: number) => (i % 4 < 2 ? 'X' : 'Y');
const A: (SamplerMessage & { topic: string })[] = Array.from({ length: 24 }, (_, i) => ({
  id: `a${i}`,
  text: `a${i}`,
  conversation: 'A',
  speaker: i % 2 ? 'Bob' : 'Ann',
  session: i < 12 ? '1' : '2',
  topic: topicOf(i),
}));
// Conversation B: 10 messages on the same two directions (offsets on axes 14, 15), by Cy and Di.
const B: (SamplerMessage & { topic: string })[] = Array.from({ length: 10 }, (_, i) => ({
  id: `b${i}`,
  text: `b${i}`,
  conversation: 'B',
  speaker: i % 2 ? 'Cy' : 'Di',
  session: '1',
  topic: i < 5 ? 'X' : 'Y',
}));
const messages = [...A, ...B];
const vectors = new Map<string, Float32Array>();
for (const list of [A, B]) {
  const seen = { X: 0, Y: 0 };
  for (const m of list) {
    const k = seen[m.topic as 'X' | 'Y']++;
    vectors.set(m.text, vector(m.topic === 'X' ? 0 : 1, m.conversation === 'A' ? 2 + k : 14 + (k % 2)));
  }
}
// Only embedDocuments is what the sampler calls of an encoder.
const encoder = { embedDocuments: async (texts: string[]) => texts.map((t) => vectors.get(t)!) } as unknown as Encoder;

describe('HierarchicalNegativeSampler with k-means topics', () => {
  it('draws hard negatives from the same conversation and topic cluster, by the other speaker', async () => {
    const queries = [
      { id: 'ann-x', text: 'what did Ann say', conversation: 'A', evidence: ['a0'] },
      { id: 'bob-y', text: 'what did Bob say', conversation: 'A', evidence: ['a3'] },
    ];
    // 20 negatives at 30 / 30 / 40: 6 hard, which is every candidate of the tier here.
    const { groups, report } = await new HierarchicalNegativeSampler(messages, queries, { encoder, negatives: 20 }).sample();
    expect(report.droppedDuplicates).toBe(0);
    const hardOf = (g: (typeof groups)[number]) => g.negativeIds.filter((_, i) => g.tiers[i] === 'hard').sort();
    const byId = new Map(messages.map((m) => [m.id, m]));
    // a0: topic X, Ann. Hard: Bob's topic-X turns of A, i % 4 in {0, 1} and odd.
    expect(hardOf(groups[0]!)).toEqual(['a1', 'a13', 'a17', 'a21', 'a5', 'a9']);
    // a3: topic Y, Bob. Hard: Ann's topic-Y turns of A, i % 4 in {2, 3} and even.
    expect(hardOf(groups[1]!)).toEqual(['a10', 'a14', 'a18', 'a2', 'a22', 'a6']);
    for (const [g, q] of groups.map((g, i) => [g, queries[i]!] as const)) {
      const positive = byId.get(g.positiveId)!;
      g.negativeIds.forEach((id, i) => {
        const m = byId.get(id)!;
        const tier = g.tiers[i];
        if (tier === 'hard') expect([m.conversation, m.topic, m.speaker === positive.speaker]).toEqual([q.conversation, positive.topic, false]);
        // Medium: the rest of the conversation; easy: the other one.
        if (tier === 'medium') expect(m.conversation === q.conversation && !(m.topic === positive.topic && m.speaker !== positive.speaker)).toBe(true);
        if (tier === 'easy') expect(m.conversation).toBe('B');
      });
      expect(g.negativeIds).not.toContain(g.positiveId);
    }
  });

  it('finds the natural tier shares from the clusters: 6 hard, 17 medium, 10 easy candidates', async () => {
    const r = await new HierarchicalNegativeSampler(messages, [{ id: 'q', text: 'q', conversation: 'A', evidence: ['a0'] }], { encoder }).estimateRatios();
    expect(r.hard).toBeCloseTo(6 / 33, 12);
    expect(r.medium).toBeCloseTo(17 / 33, 12);
    expect(r.easy).toBeCloseTo(10 / 33, 12);
  });
});
