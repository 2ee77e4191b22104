import { cp, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { modelPath } from '@evomem/model-use-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as run } from './runCli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-quantize-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const jsonl = async (file: string) => (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * b[i]!, 0);

describe('evomem quantize', () => {
  it('makes the default model int8 graph once, says where it is and how closely it agrees with fp32', async () => {
    // A copy of the default model, so no cache from an earlier run answers.
    const model = join(dir, 'use-lite');
    await cp(modelPath, model, { recursive: true, filter: (src) => !src.includes('evomem-cache') });
    const first = await run('quantize', '--model', model);
    expect(first.code, first.stderr).toBe(0);
    const path = /^int8: +(\S+\.onnx)$/m.exec(first.stdout)?.[1];
    expect(path).toBe(join(model, 'onnx', 'evomem-cache', /model\.int8\.[0-9a-f]{16}\.v\d+\.onnx/.exec(path ?? '')?.[0] ?? 'missing'));
    expect((await stat(path!)).isFile()).toBe(true);
    expect(first.stdout).toMatch(/^weights: 10 matrices, 18\.8 MiB -> 4\.7 MiB/m);
    const cosine = Number(/least cosine to the fp32 graph on a probe batch ([\d.]+)/.exec(first.stdout)?.[1]);
    expect(cosine).toBeGreaterThan(0.99);
    expect(cosine).toBeLessThan(1);
    const again = await run('quantize', '--model', model);
    expect(again.stdout).toContain(`${path} (already made)`);
  });

  it('embeds with --dtype int8 close to fp32, records it, and refuses to resume an int8 output in fp32', async () => {
    const input = join(dir, 'in.jsonl');
    await writeFile(input, Array.from({ length: 12 }, (_, i) => JSON.stringify({ text: `turn ${i}: we talked about ${i % 2 ? 'the pottery class' : 'her new job at the hospital'}` })).join('\n') + '\n');
    const int8 = join(dir, 'int8.jsonl');
    const fp32 = join(dir, 'fp32.jsonl');
    expect((await run('embed', '--in', input, '--out', int8, '--dtype', 'int8')).code).toBe(0);
    expect((await run('embed', '--in', input, '--out', fp32)).code).toBe(0);
    const [qHeader, ...qRows] = await jsonl(int8);
    const [fHeader, ...fRows] = await jsonl(fp32);
    expect(qHeader.evomem.weights).toBe('int8');
    expect(fHeader.evomem.weights).toBeUndefined();
    // Same source graph, so the same fingerprint: adapters trained on fp32 apply to int8.
    expect(qHeader.evomem.model.fingerprint).toBe(fHeader.evomem.model.fingerprint);
    const cosines = qRows.map((row: { embedding: number[] }, i: number) => dot(row.embedding, fRows[i].embedding));
    expect(Math.min(...cosines)).toBeGreaterThan(0.99);
    expect(Math.min(...cosines)).toBeLessThan(0.999999);

    const before = await readFile(int8);
    const resumed = await run('embed', '--in', input, '--out', int8);
    expect(resumed.code).toBe(1);
    expect(resumed.stderr).toMatch(/holds int8 rows; this run encodes with --dtype fp32.*Pass --dtype int8/);
    expect(await readFile(int8)).toEqual(before);
  });
});
