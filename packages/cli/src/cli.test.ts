import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Encoder } from '@evomem/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as run, SAMPLE } from './runCli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-cli-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('evomem eval', () => {
  it('prints a table by category and writes the JSON report', async () => {
    const json = join(dir, 'report.json');
    const { code, stdout } = await run('eval', '--data', SAMPLE, '--retriever', 'bm25', '--json', json);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^bm25 on .*sample-conversation\.json \(locomo, turn units\)/);
    expect(stdout).toMatch(/category\s+questions\s+recall@1\s+recall@5\s+recall@10\s+recall@20\s+ndcg@10\s+mrr/);
    expect(stdout).toMatch(/\nall\s+8\s/);
    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report).toMatchObject({ retriever: 'bm25', model: null, questions: 8, skipped: 0 });
    for (const key of ['recall@1', 'recall@5', 'recall@10', 'recall@20', 'ndcg@10', 'mrr']) expect(typeof report.metrics[key]).toBe('number');
    expect(report.by_category['4'].questions).toBe(5);
    // Deterministic: a second run writes the same numbers.
    await run('eval', '--data', SAMPLE, '--retriever', 'bm25', '--json', join(dir, 'again.json'));
    expect(JSON.parse(await readFile(join(dir, 'again.json'), 'utf8')).metrics).toEqual(report.metrics);
  });

  it('runs dense on the offline default model and reports what its cosine ranking scores', async () => {
    const json = join(dir, 'dense.json');
    const { code, stdout } = await run('eval', '--data', SAMPLE, '--retriever', 'dense', '--k', '1,3', '--json', json);
    expect(code).toBe(0);
    expect(stdout).toMatch(/dense on .* model .*model-use-lite/);
    expect(stdout).toMatch(/recall@1\s+recall@3\s+ndcg@3\s+mrr/);
    const report = JSON.parse(await readFile(json, 'utf8'));

    // The same protocol, done by hand on the raw file: turns as documents, questions as
    // queries, cosine ranking (ties by turn order), adversarial and evidence-less questions out.
    const [sample] = JSON.parse(await readFile(SAMPLE, 'utf8'));
    const turns = Object.entries(sample.conversation as Record<string, { speaker: string; dia_id: string; text: string }[]>)
      .filter(([key]) => /^session_\d+$/.test(key))
      .sort(([a], [b]) => Number(a.slice(8)) - Number(b.slice(8)))
      .flatMap(([, session]) => session);
    const questions = (sample.qa as { question: string; evidence: string[]; category: number }[]).filter((q) => q.category !== 5 && q.evidence.length > 0);
    const encoder = await Encoder.load({ device: 'cpu' });
    const docs = await encoder.embedDocuments(turns.map((t) => `${t.speaker}: ${t.text}`));
    const sums = { 'recall@1': 0, 'recall@3': 0, mrr: 0 };
    for (const q of questions) {
      const query = await encoder.embedQuery(q.question);
      const ranked = docs
        .map((d, i) => ({ i, score: cosine(d, query) }))
        .sort((a, b) => b.score - a.score || a.i - b.i)
        .map(({ i }) => turns[i]!.dia_id);
      const gold = new Set(q.evidence);
      for (const k of [1, 3] as const) sums[`recall@${k}`] += ranked.slice(0, k).filter((id) => gold.has(id)).length / gold.size;
      sums.mrr += 1 / (ranked.findIndex((id) => gold.has(id)) + 1);
    }
    await encoder.dispose();
    expect(report.questions).toBe(questions.length);
    for (const [metric, sum] of Object.entries(sums)) expect(report.metrics[metric]).toBeCloseTo(sum / questions.length, 6);
    expect(report.metrics['recall@3']).toBeGreaterThanOrEqual(report.metrics['recall@1']);
  });

  it('answers a wrong flag with a one-line error, the usage and exit code 2', async () => {
    const { code, stderr } = await run('eval', '--data', SAMPLE, '--retreiver', 'bm25');
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe("error: unknown option '--retreiver'");
    expect(stderr).toMatch(/Usage: evomem eval \[options\]/);
  });

  it('names a bad retriever, a bad --k and a malformed file', async () => {
    expect((await run('eval', '--data', SAMPLE, '--retriever', 'nope')).stderr).toMatch(/^evomem: Unknown retriever "nope"; registered: pipeline, pipeline-evolving, bm25, dense, hybrid, hybrid-rrf/);
    expect((await run('eval', '--data', SAMPLE, '--k', '5,x')).stderr).toMatch(/--k takes positive integers/);
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify([{ sample_id: 'x', conversation: { session_1: [{ speaker: 'A', dia_id: 'D1:1' }] }, qa: [] }]));
    const r = await run('eval', '--data', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^evomem: .*bad\.json: \$\[0\]\.conversation\.session_1\[0\]\.text must be a string; it is missing\.\n$/);
  });

  it('has --help on every command', async () => {
    for (const args of [['--help'], ['eval', '--help'], ['embed', '--help'], ['mine', '--help'], ['train', '--help']]) {
      const { code, stdout } = await run(...args);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^Usage: evomem/);
    }
  });
});

describe('evomem mine', () => {
  it('writes HiNS groups as fine-tuning JSONL and reports the tiers', async () => {
    const out = join(dir, 'neg.jsonl');
    const { code, stdout } = await run('mine', '--data', SAMPLE, '--out', out, '--negatives', '6', '--queries', 'both');
    expect(code).toBe(0);
    expect(stdout).toMatch(/groups from 8 queries over 28 messages/);
    expect(stdout).toMatch(/ratios hard\/medium\/easy: 0\.300 \/ 0\.300 \/ 0\.400/);
    const lines = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(11);
    for (const l of lines) {
      expect(Object.keys(l)).toEqual(['query', 'pos', 'neg']);
      expect(l.pos).toHaveLength(1);
      expect(l.neg).not.toContain(l.pos[0]);
    }
  });

  it('names a bad --ratios', async () => {
    expect((await run('mine', '--data', SAMPLE, '--out', join(dir, 'x.jsonl'), '--ratios', '1,2')).stderr).toMatch(/--ratios takes hins, estimated, or three numbers/);
  });
});

describe('evomem train', () => {
  it('trains adapters that move eval scores up on their training data, for static and evolving retrievers', async () => {
    // Evaluated on the data it was trained on, with no validation split (so no early stop
    // can keep the identity): a working adapter must rank the evidence higher.
    const report = async (file: string, ...args: string[]) => {
      const r = await run('eval', '--data', SAMPLE, '--k', '1,5', '--json', join(dir, file), ...args);
      expect(r.code).toBe(0);
      return JSON.parse(await readFile(join(dir, file), 'utf8'));
    };
    const out = join(dir, 'adapter');
    const trained = await run('train', '--data', SAMPLE, '--out', out, '--epochs', '3', '--validation', '0');
    expect(trained.code).toBe(0);
    expect(trained.stdout).toMatch(/groups from 8 queries over 28 messages \(queries: qa\)/);
    expect(trained.stdout).toMatch(/low-rank adapter \(16384 parameters, pipeline fusion weights\) for @evomem\/model-use-lite -> .*adapter\/adapter\.json/);
    const file = JSON.parse(await readFile(join(out, 'adapter.json'), 'utf8'));
    expect(file).toMatchObject({ format: 'evomem-adapter', version: 1, model: { id: '@evomem/model-use-lite', dimensions: 512 }, evolving: null });
    // The pipeline's fusion weights are learned with the adapter, for the backend it was trained on.
    expect(Object.keys(file.fusion)).toEqual(['static']);
    expect(file.fusion.static.bm25).toEqual(expect.any(Number));
    expect((await readFile(join(out, 'negatives.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(11);
    const plain = await report('dense.json', '--retriever', 'dense', '--no-adapter');
    const adapted = await report('dense-adapted.json', '--retriever', 'dense', '--adapter', out);
    expect(adapted.questions).toBe(plain.questions);
    expect(adapted.metrics.mrr).toBeGreaterThan(plain.metrics.mrr);
    expect(adapted.metrics['recall@1']).toBeGreaterThan(plain.metrics['recall@1']);

    const evolvingOut = join(dir, 'evolving-adapter');
    expect((await run('train', '--data', SAMPLE, '--out', evolvingOut, '--epochs', '2', '--evolving', '--validation', '0')).code).toBe(0);
    const evolvingFile = JSON.parse(await readFile(join(evolvingOut, 'adapter.json'), 'utf8'));
    expect(evolvingFile.evolving).toMatchObject({ format: 'evomem-evolving-weights', dimensions: 512 });
    const evolvingPlain = await report('evolving.json', '--retriever', 'evolving', '--no-adapter');
    expect(Object.keys(evolvingFile.fusion)).toEqual(['evolving']);
    const evolvingAdapted = await report('evolving-adapted.json', '--retriever', 'evolving', '--adapter', evolvingOut);
    expect(evolvingAdapted.metrics.mrr).toBeGreaterThan(evolvingPlain.metrics.mrr);
  });

  it('runs the retrieval pipeline by default, with the model adapter unless --no-adapter', async () => {
    const pipeline = await run('eval', '--data', SAMPLE, '--k', '1,5', '--json', join(dir, 'pipeline.json'));
    expect(pipeline.code).toBe(0);
    expect(JSON.parse(await readFile(join(dir, 'pipeline.json'), 'utf8')).retriever).toBe('pipeline');
    const bare = await run('eval', '--data', SAMPLE, '--k', '1,5', '--no-adapter', '--json', join(dir, 'pipeline-bare.json'));
    expect(bare.code).toBe(0);
    const [a, b] = [JSON.parse(await readFile(join(dir, 'pipeline.json'), 'utf8')), JSON.parse(await readFile(join(dir, 'pipeline-bare.json'), 'utf8'))];
    // Other query vectors and other fusion weights: the scores cannot all stay the same.
    expect(a.metrics).not.toEqual(b.metrics);
  });

  it('names bad flags and a wrong adapter file', async () => {
    expect((await run('train', '--data', SAMPLE, '--out', join(dir, 'x'), '--validation', '1')).stderr).toMatch(/--validation must be a number in \[0, 1\)/);
    const weights = join(dir, 'weights.json');
    await writeFile(weights, JSON.stringify({ format: 'evomem-evolving-weights', version: 1, dimensions: 512, temperature: 0.1, gate: { scale: 10, bias: -5, max: 0.5 }, projection: null }));
    const wrong = await run('eval', '--data', SAMPLE, '--retriever', 'dense', '--adapter', weights);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/holds evolving encoder weights; use it with an evolving retriever/);
    expect((await run('eval', '--data', SAMPLE, '--retriever', 'dense', '--adapter', join(dir, 'nowhere'))).stderr).toMatch(/nowhere does not exist/);
  });
});

describe('evomem state', () => {
  it('lists, exports and imports streams between stores, and refuses a damaged file without a stack trace', async () => {
    const { EvolvingEncoder, EvolvingMemory, SqliteStateStore } = await import('@evomem/core');
    const source = join(dir, 'source.db');
    const store = await SqliteStateStore.open({ path: source });
    const encoder = await Encoder.load({ device: 'cpu' });
    const memory = new EvolvingMemory(new EvolvingEncoder(encoder), { store });
    await memory.ingest('maya', [
      { id: 'D1:1', speaker: 'Maya', text: 'My sister is moving to Denver.' },
      { id: 'D1:2', speaker: 'Theo', text: 'What job did she get?' },
    ]);
    await memory.ingest('theo', [{ id: 'D1:3', speaker: 'Theo', text: 'I adopted a greyhound.' }]);
    await store.close();
    await encoder.dispose();

    const listed = await run('state', 'list', '--store', `sqlite:${source}`);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/maya\s+2\s+\d+/);
    expect(listed.stdout).toMatch(/theo\s+1\s+\d+/);

    const file = join(dir, 'streams.evomem');
    const exported = await run('state', 'export', '--store', `sqlite:${source}`, '--out', file);
    expect(exported.code).toBe(0);
    expect(exported.stderr).toMatch(/exported 2 streams \(3 segments/);
    const target = join(dir, 'target.db');
    expect((await run('state', 'import', '--store', `sqlite:${target}`, '--in', file)).code).toBe(0);
    expect((await run('state', 'list', '--store', `sqlite:${target}`)).stdout).toMatch(/maya\s+2\s+\d+/);

    const again = await run('state', 'import', '--store', `sqlite:${target}`, '--in', file);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already has \(maya, theo\); pass replace/);

    const bytes = await readFile(file);
    bytes[40] = bytes[40]! ^ 0xff;
    await writeFile(join(dir, 'bad.evomem'), bytes);
    const bad = await run('state', 'import', '--store', `sqlite:${join(dir, 'other.db')}`, '--in', join(dir, 'bad.evomem'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^evomem: .*bad\.evomem fails its SHA-256/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    expect((await run('state', 'list')).stderr).toMatch(/--store/);
  });
});

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}
