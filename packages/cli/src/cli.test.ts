import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { F32_HEADER_BYTES } from './embedCommand.js';

// The built CLI, run as a user runs it.
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const SAMPLE = fileURLToPath(new URL('../../../data/sample-conversation.json', import.meta.url));
const run = async (...args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [CLI, ...args], { env: { ...process.env, NODE_NO_WARNINGS: '1' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
};

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

  it('runs dense on the offline default model', async () => {
    const { code, stdout } = await run('eval', '--data', SAMPLE, '--retriever', 'dense', '--k', '1,3');
    expect(code).toBe(0);
    expect(stdout).toMatch(/dense on .* model .*model-use-lite/);
    expect(stdout).toMatch(/recall@1\s+recall@3\s+ndcg@3\s+mrr/);
  });

  it('answers a wrong flag with a one-line error and the usage', async () => {
    const { code, stderr } = await run('eval', '--data', SAMPLE, '--retreiver', 'bm25');
    expect(code).toBe(1);
    expect(stderr.split('\n')[0]).toBe("error: unknown option '--retreiver'");
    expect(stderr).toMatch(/Usage: evomem eval \[options\]/);
  });

  it('names a bad retriever, a bad --k and a malformed file', async () => {
    expect((await run('eval', '--data', SAMPLE, '--retriever', 'nope')).stderr).toMatch(/^evomem: Unknown retriever "nope"; registered: bm25, dense, hybrid, hybrid-rrf/);
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

describe('evomem embed', () => {
  const input = async (n: number) => {
    const file = join(dir, `in-${n}.jsonl`);
    await writeFile(file, Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, text: `memory number ${i} about ${i % 3 ? 'pottery' : 'tomatoes'}` })).join('\n') + '\n');
    return file;
  };

  it('writes one JSONL row per input line, in order', async () => {
    const out = join(dir, 'out.jsonl');
    const { code } = await run('embed', '--in', await input(10), '--out', out, '--batch', '4');
    expect(code).toBe(0);
    const rows = (await readFile(out, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.map((r) => r.index)).toEqual([...Array(10).keys()]);
    expect(rows[0].embedding).toHaveLength(512);
  });

  it('resumes an interrupted JSONL run and ends with what a clean run writes', async () => {
    const file = await input(12);
    const full = join(dir, 'full.jsonl');
    await run('embed', '--in', file, '--out', full, '--batch', '5');
    const partial = join(dir, 'partial.jsonl');
    const text = await readFile(full, 'utf8');
    // Seven whole rows and half of the eighth, as a killed run leaves them.
    const cut = text.split('\n').slice(0, 7).join('\n').length + 1 + 40;
    await writeFile(partial, text.slice(0, cut));
    const { code, stderr } = await run('embed', '--in', file, '--out', partial, '--batch', '5');
    expect(code).toBe(0);
    expect(stderr).toMatch(/embedded 5 texts \(resumed after 7\)/);
    const a = (await readFile(partial, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    const b = text.trim().split('\n').map((l) => JSON.parse(l));
    expect(a.map((r) => r.index)).toEqual(b.map((r) => r.index));
    a.forEach((r, i) => r.embedding.forEach((v: number, d: number) => expect(v).toBeCloseTo(b[i].embedding[d], 5)));
  });

  it('writes the raw f32 format and resumes it, cutting a half-written row', async () => {
    const file = await input(9);
    const out = join(dir, 'out.f32');
    await run('embed', '--in', file, '--out', out, '--format', 'f32');
    const whole = await readFile(out);
    expect(whole.toString('ascii', 0, 8)).toBe('EVOMEMF1');
    expect(whole.readUInt32LE(8)).toBe(512);
    expect(whole.length).toBe(F32_HEADER_BYTES + 9 * 512 * 4);
    await truncate(out, F32_HEADER_BYTES + 4 * 512 * 4 + 100);
    expect((await run('embed', '--in', file, '--out', out, '--format', 'f32')).stderr).toMatch(/embedded 5 texts \(resumed after 4\)/);
    expect((await stat(out)).size).toBe(whole.length);
    const again = await readFile(out);
    const x = new Float32Array(whole.buffer, whole.byteOffset + F32_HEADER_BYTES, 9 * 512);
    const y = new Float32Array(again.buffer, again.byteOffset + F32_HEADER_BYTES, 9 * 512);
    x.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
  });

  it('refuses to touch a file that is not its output, and names bad input lines', async () => {
    const foreign = join(dir, 'notes.f32');
    await writeFile(foreign, 'my precious notes');
    const r = await run('embed', '--in', await input(2), '--out', foreign, '--format', 'f32');
    expect(r.stderr).toMatch(/notes\.f32 exists and is not an evomem f32 file; refusing to overwrite it/);
    expect(await readFile(foreign, 'utf8')).toBe('my precious notes');
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"text": "ok"}\n{"body": "no text field"}\n');
    expect((await run('embed', '--in', bad, '--out', join(dir, 'x.jsonl'))).stderr).toMatch(/bad\.jsonl:2 has no string field "text"; pass --field/);
    await writeFile(bad, '{"text": "ok"}\nnot json\n');
    expect((await run('embed', '--in', bad, '--out', join(dir, 'y.jsonl'))).stderr).toMatch(/bad\.jsonl:2 is not valid JSON/);
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
  it('trains an adapter that eval --adapter then uses, on static and evolving retrievers', async () => {
    const out = join(dir, 'adapter');
    const trained = await run('train', '--data', SAMPLE, '--out', out, '--epochs', '3');
    expect(trained.code).toBe(0);
    expect(trained.stdout).toMatch(/groups from 8 queries over 28 messages \(queries: qa\)/);
    expect(trained.stdout).toMatch(/low-rank adapter \(16384 parameters\) for @evomem\/model-use-lite -> .*adapter\/adapter\.json/);
    const file = JSON.parse(await readFile(join(out, 'adapter.json'), 'utf8'));
    expect(file).toMatchObject({ format: 'evomem-adapter', version: 1, model: { id: '@evomem/model-use-lite', dimensions: 512 }, evolving: null });
    expect((await readFile(join(out, 'negatives.jsonl'), 'utf8')).trim().split('\n')).toHaveLength(11);
    const evaluated = await run('eval', '--data', SAMPLE, '--retriever', 'dense', '--adapter', out, '--k', '5');
    expect(evaluated.code).toBe(0);
    expect(evaluated.stdout).toMatch(/\nall\s+8\s/);

    const evolvingOut = join(dir, 'evolving-adapter');
    expect((await run('train', '--data', SAMPLE, '--out', evolvingOut, '--epochs', '2', '--evolving', '--validation', '0')).code).toBe(0);
    const evolvingFile = JSON.parse(await readFile(join(evolvingOut, 'adapter.json'), 'utf8'));
    expect(evolvingFile.evolving).toMatchObject({ format: 'evomem-evolving-weights', dimensions: 512 });
    expect((await run('eval', '--data', SAMPLE, '--retriever', 'evolving', '--adapter', evolvingOut, '--k', '5')).code).toBe(0);
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
    const { Encoder, EvolvingEncoder, EvolvingMemory, SqliteStateStore } = await import('@evomem/core');
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
