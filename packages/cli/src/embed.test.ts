import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, readFile, rm, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeHeader, type EmbedRecord } from './embedOutput.js';
import { runCli as run } from './runCli.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-embed-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

let inputs = 0;
const input = async (n: number) => {
  const file = join(dir, `in-${inputs++}.jsonl`);
  await writeFile(file, Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, text: `memory number ${i} about ${i % 3 ? 'pottery' : 'tomatoes'}` })).join('\n') + '\n');
  return file;
};
const jsonl = async (file: string) => (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
/** Where the rows of an f32 output start: the header length it records at byte 12. */
const f32Rows = (bytes: Buffer) => bytes.readUInt32LE(12);

describe('evomem embed', () => {
  it('writes a header naming model, mode, field and input, then one JSONL row per input line', async () => {
    const file = await input(10);
    const out = join(dir, 'out.jsonl');
    const { code } = await run('embed', '--in', file, '--out', out, '--batch', '4');
    expect(code).toBe(0);
    const [header, ...rows] = await jsonl(out);
    expect(header.evomem).toMatchObject({
      format: 'evomem-embeddings',
      version: 1,
      model: { id: '@evomem/model-use-lite', dimensions: 512 },
      mode: 'document',
      field: 'text',
      input: { sha256: `sha256:${createHash('sha256').update(await readFile(file)).digest('hex')}`, records: 10 },
    });
    expect(header.evomem.model.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(rows.map((r) => r.index)).toEqual([...Array(10).keys()]);
    expect(rows[0].embedding).toHaveLength(512);
  });

  it('resumes an interrupted JSONL run and ends with what a clean run writes', async () => {
    const file = await input(12);
    const full = join(dir, 'full.jsonl');
    await run('embed', '--in', file, '--out', full, '--batch', '5');
    const partial = join(dir, 'partial.jsonl');
    const text = await readFile(full, 'utf8');
    // The header, seven whole rows and half of the eighth, as a killed run leaves them.
    const cut = text.split('\n').slice(0, 8).join('\n').length + 1 + 40;
    await writeFile(partial, text.slice(0, cut));
    const { code, stderr } = await run('embed', '--in', file, '--out', partial, '--batch', '5');
    expect(code).toBe(0);
    expect(stderr).toMatch(/embedded 5 texts \(resumed after 7\)/);
    const [headerA, ...a] = await jsonl(partial);
    const [headerB, ...b] = await jsonl(full);
    expect(headerA).toEqual(headerB);
    expect(a.map((r) => r.index)).toEqual(b.map((r) => r.index));
    a.forEach((r, i) => r.embedding.forEach((v: number, d: number) => expect(v).toBeCloseTo(b[i].embedding[d], 5)));
  });

  it('writes the raw f32 format with its header record, and resumes it, cutting a half-written row', async () => {
    const file = await input(9);
    const out = join(dir, 'out.f32');
    await run('embed', '--in', file, '--out', out, '--format', 'f32');
    const whole = await readFile(out);
    expect(whole.toString('ascii', 0, 8)).toBe('EVOMEMF2');
    expect(whole.readUInt32LE(8)).toBe(512);
    const start = f32Rows(whole);
    expect(start % 4).toBe(0);
    expect(JSON.parse(whole.toString('utf8', 16, start))).toMatchObject({ format: 'evomem-embeddings', model: { dimensions: 512 }, input: { records: 9 } });
    expect(whole.length).toBe(start + 9 * 512 * 4);
    await truncate(out, start + 4 * 512 * 4 + 100);
    expect((await run('embed', '--in', file, '--out', out, '--format', 'f32')).stderr).toMatch(/embedded 5 texts \(resumed after 4\)/);
    expect((await stat(out)).size).toBe(whole.length);
    const again = await readFile(out);
    const x = new Float32Array(whole.buffer, whole.byteOffset + start, 9 * 512);
    const y = new Float32Array(again.buffer, again.byteOffset + start, 9 * 512);
    x.forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5));
  });

  it('refuses, byte for byte untouched, files that are not its output', async () => {
    const file = await input(2);
    const refused = async (name: string, content: string | Buffer, format: 'jsonl' | 'f32', reason: RegExp) => {
      const out = join(dir, name);
      await writeFile(out, content);
      const r = await run('embed', '--in', file, '--out', out, '--format', format);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).toMatch(/Choose another --out/);
      expect(Buffer.compare(await readFile(out), Buffer.from(content))).toBe(0);
    };
    // An unterminated last line was once taken for a half-written row and cut.
    await refused('notes.txt', 'my notes\nthe last line, unterminated', 'jsonl', /notes\.txt exists and is not evomem JSONL output/);
    await refused('three.jsonl', '{"index":0,"embedding":[1,2,3]}\n{"index":1,"embedding":[4,5,6]}\n', 'jsonl', /evomem 0\.1 JSONL output, which records neither the model nor the input/);
    await refused('notes.f32', 'my precious notes', 'f32', /notes\.f32 exists and is not an evomem f32 file/);
    const v1 = Buffer.alloc(16 + 3 * 4);
    v1.write('EVOMEMF1', 0, 'ascii');
    v1.writeUInt32LE(3, 8);
    await refused('old.f32', v1, 'f32', /evomem 0\.1 f32 output/);
  });

  it('refuses an --out that is its --in, however it is spelled', async () => {
    const file = await input(10);
    const before = await readFile(file);
    const link = join(dir, 'link.jsonl');
    await symlink(file, link);
    for (const out of [file, `${dir}/./${file.slice(dir.length + 1)}`, link]) {
      const r = await run('embed', '--in', file, '--out', out);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/is the input file .*embedding into it would destroy the input\. Choose another --out\.\n$/);
    }
    expect(Buffer.compare(await readFile(file), before)).toBe(0);
  });

  it('refuses to resume with another model, mode, field or input, and leaves the output as it was', async () => {
    const file = await input(6);
    const out = join(dir, 'resume.jsonl');
    expect((await run('embed', '--in', file, '--out', out)).code).toBe(0);
    // Cut to a resumable state, so only the check can stop a resume.
    const text = await readFile(out, 'utf8');
    await writeFile(out, text.split('\n').slice(0, 3).join('\n') + '\n');
    const kept = await readFile(out);
    const refusedWith = async (reason: RegExp, args: string[], inFile = file, target = out) => {
      const r = await run('embed', '--in', inFile, '--out', target, ...args);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(reason);
      expect(r.stderr).toMatch(/Delete .* to start over, or choose another --out\.\n$/);
    };
    await refusedWith(/was made with --mode document --field text; this run asks for --mode query --field text/, ['--mode', 'query']);
    await refusedWith(/this run asks for --mode document --field body/, ['--field', 'body']);
    const edited = join(dir, 'edited.jsonl');
    await writeFile(edited, await readFile(file));
    await appendFile(edited, '{"text": "one more line"}\n');
    await refusedWith(/was made from another input \(6 records, sha256:.*\) than --in now holds \(7 records/, [], edited);
    expect(Buffer.compare(await readFile(out), kept)).toBe(0);

    // Files as another model writes them: 384-dimensional rows under its own fingerprint.
    const [{ evomem: record }] = await jsonl(out);
    const other: EmbedRecord = { ...record, model: { id: 'another-model', fingerprint: `sha256:${'0'.repeat(64)}`, dimensions: 384 } };
    const otherJsonl = join(dir, 'other.jsonl');
    await writeFile(otherJsonl, Buffer.concat([encodeHeader('jsonl', other), Buffer.from(`${JSON.stringify({ index: 0, embedding: Array(384).fill(0.1) })}\n`)]));
    const otherF32 = join(dir, 'other.f32');
    await writeFile(otherF32, Buffer.concat([encodeHeader('f32', other), Buffer.alloc(384 * 4)]));
    for (const [target, format] of [[otherJsonl, 'jsonl'], [otherF32, 'f32']] as const) {
      const before = await readFile(target);
      await refusedWith(/holds 384-dimensional rows of another-model \(sha256:0000.*\), but this run encodes with @evomem\/model-use-lite \(512 dimensions/, ['--format', format], file, target);
      expect(Buffer.compare(await readFile(target), before)).toBe(0);
    }
  });

  it('names bad input lines', async () => {
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"text": "ok"}\n{"body": "no text field"}\n');
    expect((await run('embed', '--in', bad, '--out', join(dir, 'x.jsonl'))).stderr).toMatch(/bad\.jsonl:2 has no string field "text"; pass --field/);
    await writeFile(bad, '{"text": "ok"}\nnot json\n');
    expect((await run('embed', '--in', bad, '--out', join(dir, 'y.jsonl'))).stderr).toMatch(/bad\.jsonl:2 is not valid JSON/);
  });
});
