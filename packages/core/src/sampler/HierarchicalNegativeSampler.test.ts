import { describe, expect, it } from 'vitest';
import { Encoder } from '../encoder/Encoder.js';
import { tinyModel } from '../encoder/fixtures.js';
import { HierarchicalNegativeSampler, samplerInputFromDataset, toTrainingJsonl, type SamplerMessage } from './HierarchicalNegativeSampler.js';

// Conversation A: Ann and Bob over two sessions; conversation B: Cy and Di.
const A = (i: number, speaker: string, session: string): SamplerMessage => ({ id: `a${i}`, text: `a message ${i} from ${speaker}`, conversation: 'A', speaker, session });
const messages: SamplerMessage[] = [
  A(1, 'Ann', '1'), A(2, 'Ann', '1'), A(3, 'Bob', '1'), A(4, 'Bob', '1'), A(5, 'Ann', '2'), A(6, 'Bob', '2'), A(7, 'Bob', '2'), A(8, 'Ann', '2'),
  ...Array.from({ length: 6 }, (_, i) => ({ id: `b${i}`, text: `b message ${i}`, conversation: 'B', speaker: i % 2 ? 'Cy' : 'Di', session: '1' })),
];
const query = { id: 'q1', text: 'what did Ann say', conversation: 'A', evidence: ['a2'] };
const kind = (id: string) => (id.startsWith('b') ? 'other conversation' : ['a3', 'a4'].includes(id) ? 'same session, other speaker' : 'rest of A');

describe('HierarchicalNegativeSampler', () => {
  it('draws hard negatives from the topic (here the session) by another speaker, medium from the rest of the conversation, easy from others', async () => {
    const sampler = new HierarchicalNegativeSampler(messages, [query], { negatives: 5 });
    const { groups, report } = await sampler.sample();
    expect(groups).toHaveLength(1);
    const g = groups[0]!;
    expect(g.positiveId).toBe('a2');
    // 5 at 30/30/40: 1.5 / 1.5 / 2, largest remainders: 2 hard, 1 medium, 2 easy.
    expect(g.tiers).toEqual(['hard', 'hard', 'medium', 'easy', 'easy']);
    g.negativeIds.forEach((id, i) => {
      expect(kind(id)).toBe({ hard: 'same session, other speaker', medium: 'rest of A', easy: 'other conversation' }[g.tiers[i]!]);
    });
    expect(g.negativeIds).not.toContain('a2');
    expect(new Set(g.negativeIds).size).toBe(5);
    expect(report).toEqual({ groups: 1, picked: { hard: 2, medium: 1, easy: 2 }, droppedDuplicates: 0, shortGroups: 0 });
  });

  it('fills a short tier from the next one and reports short groups', async () => {
    const { groups, report } = await new HierarchicalNegativeSampler(messages, [query], { negatives: 15 }).sample();
    // Hard has 2 candidates, medium 5 (A minus evidence and hard), easy 6: 13 in all.
    expect(groups[0]!.tiers.filter((t) => t === 'hard')).toHaveLength(2);
    expect(groups[0]!.negativeIds).toHaveLength(13);
    expect(report.shortGroups).toBe(1);
  });

  it('is deterministic for a seed', async () => {
    const run = async (seed: number) => (await new HierarchicalNegativeSampler(messages, [query], { negatives: 6, seed }).sample()).groups[0]!.negativeIds;
    expect(await run(7)).toEqual(await run(7));
    const seeds = await Promise.all([1, 2, 3, 4, 5].map(run));
    expect(new Set(seeds.map((s) => s.join())).size).toBeGreaterThan(1);
  });

  it('estimates the natural tier proportions', async () => {
    // For q1: 2 hard, 5 medium, 6 easy candidates.
    const r = await new HierarchicalNegativeSampler(messages, [query]).estimateRatios();
    expect(r.hard).toBeCloseTo(2 / 13, 12);
    expect(r.medium).toBeCloseTo(5 / 13, 12);
    expect(r.easy).toBeCloseTo(6 / 13, 12);
  });

  it('drops near-duplicates of the positive as likely false negatives', async () => {
    const model = await tinyModel();
    const encoder = await Encoder.load({ model: model.dir, device: 'cpu' });
    const withCopy = [...messages, { id: 'a9', text: messages[1]!.text, conversation: 'A', speaker: 'Bob', session: '1' }];
    const { groups, report } = await new HierarchicalNegativeSampler(withCopy, [query], { encoder, negatives: 15 }).sample();
    expect(groups[0]!.negativeIds).not.toContain('a9');
    expect(report.droppedDuplicates).toBeGreaterThanOrEqual(1);
    await encoder.dispose();
    await model.cleanup();
  });

  it('rejects unknown evidence ids and duplicate message ids', () => {
    expect(() => new HierarchicalNegativeSampler(messages, [{ ...query, evidence: ['zz'] }])).toThrow(/Query q1 cites unknown message ids zz/);
    expect(() => new HierarchicalNegativeSampler([...messages, messages[0]!], [query])).toThrow(/Message id "a1" appears twice/);
  });

  it('exports the JSONL that sentence-transformers and FlagEmbedding read', async () => {
    const { groups } = await new HierarchicalNegativeSampler(messages, [query], { negatives: 3 }).sample();
    const lines = toTrainingJsonl(groups).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual([{ query: 'what did Ann say', pos: ['a message 2 from Ann'], neg: groups[0]!.negatives }]);
  });

  it('builds queries from QA and from observation facts', () => {
    const turns = {
      source: 'x', format: 'locomo' as const, unit: 'turn' as const, skipped: {},
      corpora: [{ id: 'c', units: [{ key: 'D1:1', text: 'Ann: hi', speaker: 'Ann', session: '1' }, { key: 'D1:2', text: 'Bob: yo', speaker: 'Bob', session: '1' }], questions: [{ id: 'c#0', text: 'who said hi', evidence: ['D1:1'], category: '4' }] }],
    };
    const observations = { ...turns, unit: 'observation' as const, corpora: [{ id: 'c', units: [{ key: 'D1:2', text: 'Bob greets casually.', speaker: 'Bob' }], questions: [] }] };
    const { messages: m, queries } = samplerInputFromDataset(turns, observations);
    expect(m.map((x) => x.id)).toEqual(['c/D1:1', 'c/D1:2']);
    expect(queries).toEqual([
      { id: 'c#0', text: 'who said hi', conversation: 'c', evidence: ['c/D1:1'] },
      { id: 'c#obs0', text: 'Bob greets casually.', conversation: 'c', evidence: ['c/D1:2'], targetSpeaker: 'Bob' },
    ]);
  });
});
