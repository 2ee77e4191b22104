import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EvomemError } from '../errors.js';
import { Encoder } from './Encoder.js';
import { tinyModel } from './fixtures.js';
import { hubCacheFolder, isHubId, resolveHubModel, type DownloadProgress } from './hub.js';

// A loopback server that answers like the Hugging Face resolve endpoint: HEAD gives a 302
// with X-Linked-Etag (sha256) for LFS files and a 200 with the git blob sha1 ETag for the
// rest; GET honours Range; `cutAfter` drops the connection part-way through a file once.
let server: Server;
let endpoint: string;
let files: Map<string, Buffer>;
let cache: { dir: string; cleanup: () => Promise<void> };
let source: { dir: string; cleanup: () => Promise<void> };
const state = { cutAfter: 0, corrupt: '', ranges: [] as string[], gets: 0 };

async function listFiles(dir: string, root = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path, root)));
    else out.push(relative(root, path));
  }
  return out;
}

beforeAll(async () => {
  source = await tinyModel({ prompts: { query: 'query: ' } });
  files = new Map();
  for (const file of await listFiles(source.dir)) files.set(file, await readFile(join(source.dir, file)));
  server = createServer((req, res) => {
    const match = /^\/acme\/tiny-bert\/resolve\/main\/(.+)$/.exec(req.url ?? '');
    const file = match ? decodeURIComponent(match[1]!) : undefined;
    const body = file === undefined ? undefined : files.get(file);
    if (!body) return res.writeHead(404).end();
    const lfs = file!.endsWith('.onnx');
    const etag = lfs
      ? createHash('sha256').update(body).digest('hex')
      : createHash('sha1').update(`blob ${body.length}\0`).update(body).digest('hex');
    if (req.method === 'HEAD') {
      if (lfs) return res.writeHead(302, { location: req.url!, 'x-linked-etag': `"${etag}"`, 'x-linked-size': String(body.length) }).end();
      return res.writeHead(200, { etag: `"${etag}"`, 'content-length': String(body.length) }).end();
    }
    state.gets++;
    const payload = state.corrupt === file ? Buffer.from(body).fill(7, 0, 16) : body;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range) {
      state.ranges.push(`${file}:${range[1]}`);
      const start = Number(range[1]);
      if (start >= payload.length) return res.writeHead(416).end();
      return res.writeHead(206, { 'content-length': String(payload.length - start) }).end(payload.subarray(start));
    }
    if (state.cutAfter > 0 && lfs) {
      const cut = state.cutAfter;
      state.cutAfter = 0;
      res.writeHead(200, { 'content-length': String(payload.length) });
      // Give the client time to read what was sent before the connection drops.
      res.write(payload.subarray(0, cut), () => setTimeout(() => res.destroy(), 100));
      return;
    }
    res.writeHead(200, { 'content-length': String(payload.length) }).end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  await source.cleanup();
});

beforeEach(async () => {
  cache = await tinyModel({ name: 'unused' });
  Object.assign(state, { cutAfter: 0, corrupt: '', ranges: [], gets: 0 });
  return () => cache.cleanup();
});

const options = () => ({ endpoint, cacheDir: join(cache.dir, '..', 'cache'), offline: false });

describe('hub model download', () => {
  it('downloads a model folder into the cache, then serves it offline with no request', async () => {
    const progress: DownloadProgress[] = [];
    const dir = await resolveHubModel('acme/tiny-bert', { ...options(), onProgress: (p) => progress.push(p) });
    expect(dir).toBe(hubCacheFolder('acme/tiny-bert', options()));
    for (const [file, body] of files) expect(await readFile(join(dir, file))).toEqual(body);
    const onnx = progress.filter((p) => p.file === 'onnx/model.onnx');
    expect(onnx.at(-1)).toMatchObject({ loaded: files.get('onnx/model.onnx')!.length, total: files.get('onnx/model.onnx')!.length });

    const gets = state.gets;
    expect(await resolveHubModel('acme/tiny-bert', { ...options(), offline: true })).toBe(dir);
    expect(state.gets).toBe(gets);
  });

  it('loads an Encoder from a hub id end to end', async () => {
    const encoder = await Encoder.load({ model: 'acme/tiny-bert', hubEndpoint: endpoint, cacheDir: options().cacheDir, offline: false, device: 'cpu' });
    const local = await Encoder.load({ model: source.dir, device: 'cpu' });
    expect(encoder.queryPrompt).toBe('query: ');
    expect(Array.from(await encoder.embedQuery('memory'))).toEqual(Array.from(await local.embedQuery('memory')));
    await Promise.all([encoder.dispose(), local.dispose()]);
  });

  it('resumes a broken transfer from where it stopped', async () => {
    state.cutAfter = 4096;
    const error = await resolveHubModel('acme/tiny-bert', options()).catch((e: EvomemError) => e);
    expect(error).toMatchObject({ code: 'DOWNLOAD_FAILED' });
    expect((error as EvomemError).message).toMatch(/onnx\/model\.onnx .*broke off.*Run again to resume/);
    const partial = join(hubCacheFolder('acme/tiny-bert', options()), 'onnx', 'model.onnx.incomplete');
    const kept = (await stat(partial)).size;
    expect(kept).toBeGreaterThan(0);

    const dir = await resolveHubModel('acme/tiny-bert', options());
    expect(state.ranges).toEqual([`onnx/model.onnx:${kept}`]);
    expect(await readFile(join(dir, 'onnx', 'model.onnx'))).toEqual(files.get('onnx/model.onnx'));
  });

  it('rejects a file that does not match the checksum and deletes it', async () => {
    state.corrupt = 'onnx/model.onnx';
    const error = await resolveHubModel('acme/tiny-bert', options()).catch((e: EvomemError) => e);
    expect(error).toMatchObject({ code: 'CHECKSUM_MISMATCH' });
    expect((error as EvomemError).message).toMatch(/onnx\/model\.onnx of acme\/tiny-bert does not match/);
    const folder = hubCacheFolder('acme/tiny-bert', options());
    await expect(stat(join(folder, 'onnx', 'model.onnx'))).rejects.toThrow();
    await expect(stat(join(folder, 'onnx', 'model.onnx.incomplete'))).rejects.toThrow();
    state.corrupt = '';
    expect(await resolveHubModel('acme/tiny-bert', options())).toBe(folder);
  });

  it('fails offline with an empty cache, saying where to put the files', async () => {
    const error = await resolveHubModel('acme/tiny-bert', { ...options(), offline: true }).catch((e: EvomemError) => e);
    expect(error).toMatchObject({ code: 'OFFLINE' });
    expect((error as EvomemError).message).toContain(hubCacheFolder('acme/tiny-bert', options()));
    expect((error as EvomemError).message).toMatch(/onnx\/model\.onnx, tokenizer\.json/);
    expect(state.gets).toBe(0);
  });

  it('explains an unreachable hub and how to work offline', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const error = await resolveHubModel('acme/tiny-bert', { ...options(), endpoint: `http://127.0.0.1:${port}` }).catch((e: EvomemError) => e);
    expect(error).toMatchObject({ code: 'DOWNLOAD_FAILED' });
    expect((error as EvomemError).message).toMatch(/Could not reach http:\/\/127\.0\.0\.1:\d+ to download acme\/tiny-bert .*If this machine is offline/);
  });

  it('names a model without ONNX weights for the asked dtype', async () => {
    const error = await resolveHubModel('acme/tiny-bert', { ...options(), dtype: 'q4' }).catch((e: EvomemError) => e);
    expect(error).toMatchObject({ code: 'MODEL_FILE_MISSING' });
    expect((error as EvomemError).message).toMatch(/acme\/tiny-bert has no ONNX weights for dtype q4/);
  });

  it("fetches the fp32 graph for dtype 'int8' (evomem quantizes it), and a repository's own model_int8.onnx only when it has no fp32 graph", async () => {
    const folder = await resolveHubModel('acme/tiny-bert', { ...options(), dtype: 'int8' });
    expect((await stat(join(folder, 'onnx', 'model.onnx'))).isFile()).toBe(true);
    expect(JSON.parse(await readFile(join(folder, '.evomem-manifest.json'), 'utf8')).dtypes).toContain('fp32');
    // The same repository with only a shipped int8 file.
    const fp32 = files.get('onnx/model.onnx')!;
    files.delete('onnx/model.onnx');
    files.set('onnx/model_int8.onnx', fp32);
    try {
      const other = await resolveHubModel('acme/tiny-bert', { ...options(), cacheDir: join(cache.dir, '..', 'cache-int8-only'), dtype: 'int8' });
      expect((await stat(join(other, 'onnx', 'model_int8.onnx'))).isFile()).toBe(true);
      await expect(stat(join(other, 'onnx', 'model.onnx'))).rejects.toThrow();
      expect(JSON.parse(await readFile(join(other, '.evomem-manifest.json'), 'utf8'))).toMatchObject({ dtypes: ['int8'], noFp32: true });
      // Served from the cache next time, offline.
      expect(await resolveHubModel('acme/tiny-bert', { ...options(), cacheDir: join(cache.dir, '..', 'cache-int8-only'), dtype: 'int8', offline: true })).toBe(other);
    } finally {
      files.delete('onnx/model_int8.onnx');
      files.set('onnx/model.onnx', fp32);
    }
  });

  it('tells hub ids from paths', () => {
    expect(isHubId('Xenova/all-MiniLM-L6-v2')).toBe(true);
    expect(isHubId('./models/x')).toBe(false);
    expect(isHubId('/abs/path')).toBe(false);
    expect(isHubId('a/b/c')).toBe(false);
  });
});

