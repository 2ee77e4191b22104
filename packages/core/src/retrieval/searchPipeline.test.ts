import { beforeAll, describe, expect, it } from 'vitest';
import { QueryAdapter } from '../adapter/QueryAdapter.js';
import { Encoder } from '../encoder/Encoder.js';
import { tinyEncoderForSuite } from '../encoder/fixtures.js';
import { EvolvingEncoder } from '../memory/EvolvingEncoder.js';
import { DEFAULT_FUSION } from './defaultFusion.js';
import { fuseSignals, RetrievalPipeline, SIGNALS, type FusionWeights, type SignalColumns } from './pipeline.js';
import { SearchIndex } from './SearchIndex.js';

const tiny = tinyEncoderForSuite();
let encoder: Encoder;
beforeAll(() => {
  encoder = tiny();
});

const texts = ['the agent will remember', 'what did she say about memory', 'last week', 'memory agent', 'she said the memory was last week'];
const meta = [
  { speaker: 'Maya', session: '1', timestamp: '1:56 pm on 8 May, 2023' },
  { speaker: 'Theo', session: '1', timestamp: '1:56 pm on 8 May, 2023' },
  { speaker: 'Maya', session: '2', timestamp: '10:00 am on 20 July, 2023' },
  { speaker: 'Theo', session: '2', timestamp: '10:00 am on 20 July, 2023' },
  { speaker: 'Maya', session: '3', timestamp: '3:00 pm on 15 August, 2023' },
];
const queries = ['What did Theo say about memory?', 'When did Maya remember the agent in May 2023?', 'last week'];
const trained: FusionWeights = { bm25: 0.7, dense: 1.4, 'session-bm25': 0.3, 'prev-dense': -0.2, speaker: 0.5, 'date-match': 0.9 };

async function filled(index: SearchIndex): Promise<SearchIndex> {
  await index.add(texts.slice(0, 2), meta.slice(0, 2));
  await index.add(texts.slice(2), meta.slice(2));
  return index;
}
const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i]!, 0);
function expectSameColumns(got: SignalColumns, want: SignalColumns) {
  expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
  for (const name of SIGNALS) {
    if (!want[name]) continue;
    expect(got[name]).toHaveLength(want[name].length);
    want[name].forEach((v, i) => expect(got[name]![i]).toBeCloseTo(v, 5));
  }
}

describe('SearchIndex in pipeline mode', () => {
  it('is the default mode, with the default static weights for a plain encoder', () => {
    const index = new SearchIndex({ encoder });
    expect(index.mode).toBe('pipeline');
    expect(encoder.adapter).toBeUndefined();
    expect(index.fusionWeights).toEqual(DEFAULT_FUSION.static);
  });

  it("computes the pipeline's signals from the encoder's own embeddings, and nothing else", async () => {
    const index = await filled(new SearchIndex({ encoder }));
    const docs = await encoder.embedDocuments(texts);
    const pipeline = new RetrievalPipeline(texts.map((text, i) => ({ text, ...meta[i] })));
    for (const query of queries) {
      const q = await encoder.embedQuery(query);
      const columns = await index.signals(query);
      expect(Object.keys(columns).sort()).toEqual([...SIGNALS].sort());
      expectSameColumns(columns, pipeline.signals(query, docs.map((d) => dot(d, q))));
    }
  });

  it('scores by the fused signals, and ranks by those scores', async () => {
    const index = await filled(new SearchIndex({ encoder, fusionWeights: trained }));
    expect(index.fusionWeights).toEqual(trained);
    for (const query of queries) {
      const scores = await index.scores(query);
      const want = fuseSignals(await index.signals(query), trained, texts.length);
      expect([...scores]).toEqual([...want]);
      const hits = await index.search(query, texts.length);
      expect(hits.map((h) => h.score)).toEqual([...want].sort((a, b) => b - a));
    }
    // Fused with other weights, the scores change: the weights given are the ones used.
    const plain = await filled(new SearchIndex({ encoder }));
    expect([...(await plain.scores(queries[0]!))]).not.toEqual([...(await index.scores(queries[0]!))]);
  });

  it('leaves out the signals of parts switched off, and refuses unknown parts and weights', async () => {
    const index = await filled(new SearchIndex({ encoder, parts: { speakers: false, time: false } }));
    const columns = await index.signals(queries[1]!);
    for (const name of ['speaker', 'reply-to-speaker', 'when-time', 'date-match'] as const) expect(columns[name]).toBeUndefined();
    expect(columns['prev-dense']).toHaveLength(texts.length);
    expect(() => new SearchIndex({ encoder, parts: { neighborhood: false } as never })).toThrow(/unknown option 'neighborhood'.*Did you mean 'neighbourhood'/);
    expect(() => new SearchIndex({ encoder, fusionWeights: { 'sesion-bm25': 1 } as never })).toThrow(/Did you mean 'session-bm25'/);
    expect(() => new SearchIndex({ encoder, fusionWeights: { bm25: Number.NaN } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
  });

  describe("with an adapter's fusion weights", () => {
    let adapted: Encoder;
    const adapterStatic: FusionWeights = { bm25: 0.2, dense: 2.5, speaker: 1.1 };
    beforeAll(async () => {
      const model = await encoder.describeModel();
      const D = model.dimensions;
      // U zero: the identity projection, so only the fusion weights differ from the plain encoder.
      const adapter = new QueryAdapter({
        model,
        projection: { kind: 'low-rank', rank: 1, u: new Float32Array(D), v: new Float32Array(D).fill(0.1) },
        fusion: { static: adapterStatic },
      });
      adapted = await Encoder.load({ model: encoder.modelPath, device: 'cpu', adapter });
      return () => adapted.dispose();
    });

    it('uses them for the backend they were trained for, unless weights are given', async () => {
      const index = await filled(new SearchIndex({ encoder: adapted }));
      expect(index.fusionWeights).toEqual(adapterStatic);
      const query = queries[0]!;
      expect([...(await index.scores(query))]).toEqual([...fuseSignals(await index.signals(query), adapterStatic, texts.length)]);
      expect(new SearchIndex({ encoder: adapted, fusionWeights: trained }).fusionWeights).toEqual(trained);
      // They hold no evolving weights: the evolving backend keeps its default.
      expect(new SearchIndex({ evolving: new EvolvingEncoder(adapted) }).fusionWeights).toEqual(DEFAULT_FUSION.evolving);
    });
  });

  it('ranks blank texts with the evolving backend, which refuses blank turns', async () => {
    const index = new SearchIndex({ evolving: new EvolvingEncoder(encoder) });
    expect(index.fusionWeights).toEqual(DEFAULT_FUSION.evolving);
    await index.add(['memory agent', '   ', 'last week']);
    const scores = await index.scores('memory');
    expect(scores).toHaveLength(3);
    expect(Array.from(scores).every(Number.isFinite)).toBe(true);
  });
});

describe('SearchIndex pipeline on the evolving backend', () => {
  it('takes timestamps that are not dates (scene labels) as no date, on both backends', async () => {
    const { EvolvingEncoder } = await import('../memory/EvolvingEncoder.js');
    const meta = [{ speaker: 'Ross', session: '1', timestamp: 'scene s01_e23_c01' }, { speaker: 'Rachel', session: '1', timestamp: 'scene s01_e23_c01' }];
    for (const index of [new SearchIndex({ encoder }), new SearchIndex({ evolving: new EvolvingEncoder(encoder, { onWarning: () => {} }) })]) {
      await index.add(['Ross: the baby is coming', 'Rachel: in the cab?'], meta);
      const columns = await index.signals('What did Ross say in May 2023?');
      expect([...columns['date-match']!]).toEqual([0, 0]);
      expect([...columns.speaker!]).toEqual([1, 0]);
    }
  });
});

describe('what the signals do for a reader', () => {
  const turns = [
    ['Maya', 'My sister Lena got a new job in Denver.'],
    ['Theo', 'Congrats to her! What will she be doing?'],
    ['Maya', 'Pediatric nurse, at the children hospital.'],
    ['Theo', 'I finally fixed the bike.'],
    ['Maya', 'Nice, the red one?'],
  ];
  const question = "What job did Maya's sister get in Denver?";

  it("lifts the reply to the turn that names the subject, by that turn's score", async () => {
    const rankOf = async (fusionWeights: Record<string, number>) => {
      const index = new SearchIndex({ encoder, fusionWeights });
      await index.add(
        turns.map(([speaker, text]) => `${speaker}: ${text}`),
        turns.map(([speaker]) => ({ speaker, session: '1' })),
      );
      return (await index.search(question, turns.length)).findIndex((h) => h.index === 1);
    };
    // Turn 1 shares no content word with the question; turn 0, before it, does.
    const alone = await rankOf({ bm25: 1 });
    const withNeighbour = await rankOf({ bm25: 1, 'prev-bm25': 1 });
    expect(withNeighbour).toBeLessThan(alone);
    expect(withNeighbour).toBeLessThanOrEqual(1);
  });
});
