import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildRandomBert } from '@evomem/onnx-builder';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EvomemError } from '../../errors.js';
import { TINY_BERT, tinyModel } from '../fixtures.js';
import { fileFingerprint, prepareGraph, REWRITE_VERSION } from './derivedGraph.js';
import { OnnxGraph } from './OnnxGraph.js';

describe('prepareGraph', () => {
  let model: { dir: string; cleanup: () => Promise<void> };
  let source: string;
  let cacheDir: string;
  beforeAll(async () => {
    model = await tinyModel();
    source = join(model.dir, 'onnx', 'model.onnx');
    cacheDir = await mkdtemp(join(tmpdir(), 'evomem-graph-cache-'));
  });
  afterAll(async () => {
    await model.cleanup();
    await rm(cacheDir, { recursive: true, force: true });
  });

  it('writes the int8 graph beside the source, keyed by its sha256, and reads it back on the next call', async () => {
    const fingerprint = await fileFingerprint(source);
    const first = await prepareGraph(source, { fuse: false, int8: true, cacheDir });
    expect(first).toMatchObject({ transform: 'int8', cached: false, source: { path: source, fingerprint } });
    expect(first.path).toBe(join(model.dir, 'onnx', 'evomem-cache', `model.int8.${fingerprint.slice(7, 23)}.v${REWRITE_VERSION}.onnx`));
    expect(first.quantized?.quantized).toBe(12);
    const written = await OnnxGraph.read(first.path);
    expect(written.metadata('evomem.source')).toBe(fingerprint);
    expect(written.opCounts().DynamicQuantizeMatMul).toBe(12);

    const second = await prepareGraph(source, { fuse: false, int8: true, cacheDir });
    expect(second).toEqual({ ...first, cached: true });
  });

  it('makes a new graph when the source changes, and never serves the old one for it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'evomem-graph-src-'));
    try {
      const path = join(root, 'model.onnx');
      await writeFile(path, buildRandomBert({ ...TINY_BERT, vocab_size: 50 }, { seed: 1 }));
      const a = await prepareGraph(path, { fuse: false, int8: true, cacheDir });
      await writeFile(path, buildRandomBert({ ...TINY_BERT, vocab_size: 50 }, { seed: 2 }));
      const b = await prepareGraph(path, { fuse: false, int8: true, cacheDir });
      expect(b.cached).toBe(false);
      expect(b.source.fingerprint).not.toBe(a.source.fingerprint);
      expect(b.path).not.toBe(a.path);
      expect((await readdir(join(root, 'evomem-cache'))).filter((f) => f.endsWith('.onnx'))).toHaveLength(2);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('notes the source hash, and hashes again when the file changes under the same name', async () => {
    const root = await mkdtemp(join(tmpdir(), 'evomem-graph-note-'));
    try {
      const path = join(root, 'model.onnx');
      await writeFile(path, buildRandomBert({ ...TINY_BERT, vocab_size: 50 }, { seed: 5 }));
      const first = await prepareGraph(path, { fuse: false, int8: true, cacheDir });
      const note = JSON.parse(await readFile(join(root, 'evomem-cache', 'model.onnx.sha256.json'), 'utf8'));
      expect(note.fingerprint).toBe(first.source.fingerprint);
      // A note that lies is believed while the file is unchanged: proof that the hash is not recomputed.
      await writeFile(join(root, 'evomem-cache', 'model.onnx.sha256.json'), JSON.stringify({ ...note, fingerprint: 'sha256:' + 'f'.repeat(64) }));
      expect((await prepareGraph(path, { fuse: false, int8: true, cacheDir })).source.fingerprint).toBe('sha256:' + 'f'.repeat(64));
      // Rewritten (new size, mtime): hashed again.
      await writeFile(path, buildRandomBert({ ...TINY_BERT, vocab_size: 60 }, { seed: 6 }));
      const changed = await prepareGraph(path, { fuse: false, int8: true, cacheDir });
      expect(changed.source.fingerprint).toBe(await fileFingerprint(path));
      expect(changed.source.fingerprint).not.toBe(first.source.fingerprint);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('falls back to the cache directory when the model folder cannot take the file', async () => {
    const root = await mkdtemp(join(tmpdir(), 'evomem-graph-ro-'));
    try {
      const path = join(root, 'model.onnx');
      await writeFile(path, await readFile(source));
      // A file where the cache folder would go: mkdir fails, as it would on a read-only folder (and root ignores permissions).
      await writeFile(join(root, 'evomem-cache'), 'not a folder');
      const result = await prepareGraph(path, { fuse: false, int8: true, cacheDir });
      expect(result.path.startsWith(join(cacheDir, 'graphs'))).toBe(true);
      expect((await prepareGraph(path, { fuse: false, int8: true, cacheDir })).cached).toBe(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses an int8 graph that disagrees with its source, and caches no graph', async () => {
    const root = await mkdtemp(join(tmpdir(), 'evomem-graph-bad-'));
    try {
      const path = join(root, 'model.onnx');
      await writeFile(path, await readFile(source));
      // A cache of its own: the same bytes' graph is already cached in the shared one.
      const error = await prepareGraph(path, { fuse: false, int8: true, cacheDir: join(root, 'cache'), check: async () => 0.5 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EvomemError);
      expect((error as EvomemError).code).toBe('GRAPH_UNSUPPORTED');
      expect((error as EvomemError).message).toMatch(/int8 rewrite of .*model\.onnx disagrees with it \(least cosine 0\.5000/);
      // No graph and no record of it; only the note of the source's hash.
      expect(await readdir(join(root, 'evomem-cache'))).toEqual(['model.onnx.sha256.json']);
      expect(await readdir(join(root, 'cache')).catch(() => [])).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('runs the source when a fusion disagrees with it, says so once, and remembers the refusal', async () => {
    const root = await mkdtemp(join(tmpdir(), 'evomem-graph-fuse-'));
    const warnings: string[] = [];
    const listen = (w: Error & { code?: string }) => w.code === 'EVOMEM_GRAPH_NOT_OPTIMIZED' && warnings.push(w.message);
    process.on('warning', listen);
    try {
      const path = join(root, 'model.onnx');
      await writeFile(path, buildRandomBert({ ...TINY_BERT, vocab_size: 50 }, { seed: 3 }));
      const options = { fuse: true, int8: false, cacheDir: join(root, 'cache'), check: async () => 0.9 };
      expect(await prepareGraph(path, options)).toMatchObject({ path, transform: 'none', cached: false });
      expect(await prepareGraph(path, options)).toMatchObject({ path, transform: 'none', cached: true });
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/fused rewrite of .*model\.onnx disagrees with it \(least cosine 0\.9000.*runs as exported/);
    } finally {
      process.off('warning', listen);
      await rm(root, { recursive: true, force: true });
    }
  });

  it('does not remember a failure it did not decide (it may not happen next time)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'evomem-graph-flaky-'));
    try {
      const path = join(root, 'model.onnx');
      await writeFile(path, buildRandomBert({ ...TINY_BERT, vocab_size: 50 }, { seed: 4 }));
      const flaky = { fuse: true, int8: false, cacheDir: join(root, 'cache'), check: async (): Promise<number> => Promise.reject(new Error('out of memory')) };
      expect(await prepareGraph(path, flaky)).toMatchObject({ transform: 'none', cached: false });
      const next = await prepareGraph(path, { fuse: true, int8: false, cacheDir: join(root, 'cache') });
      expect(next).toMatchObject({ transform: 'fused', cached: false });
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('runs the source as it is when nothing is asked', async () => {
    expect(await prepareGraph(source, { fuse: false, int8: false })).toMatchObject({ path: source, transform: 'none', cached: false });
  });

  it('names a file that is not ONNX', async () => {
    const root = await mkdtemp(join(tmpdir(), 'evomem-graph-junk-'));
    try {
      const path = join(root, 'model.onnx');
      await writeFile(path, 'this is not protobuf at all \u0000\u0001\u0002');
      const error = await prepareGraph(path, { fuse: false, int8: true, cacheDir }).catch((e: unknown) => e);
      expect((error as EvomemError).code).toBe('MODEL_FILE_INVALID');
      expect((error as EvomemError).message).toContain(path);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
