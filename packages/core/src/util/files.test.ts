import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryAdapter } from '../adapter/QueryAdapter.js';
import { resolveHubModel } from '../encoder/hub.js';
import { EvomemError } from '../errors.js';
import { appendMemoryLog } from '../eval/memoryLog.js';
import { defaultEvolvingWeights, saveEvolvingWeights } from '../memory/readOut.js';
import { MemoryStateStore } from '../stores/memory.js';
import { exportStreams } from '../stores/stateFile.js';
import { fileError } from './files.js';

// Every place core writes a file turns a file-system failure into a WRITE_FAILED
// EvomemError naming the path and the fix, with the system's error as its cause.

let root: string;
/** A folder where a file is expected. */
let folder: string;
/** A regular file where a folder is expected. */
let file: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'evomem-files-'));
  folder = join(root, 'a-folder.json');
  file = join(root, 'a-file.txt');
  await mkdir(folder);
  await writeFile(file, 'not a folder');
});
afterAll(() => rm(root, { recursive: true, force: true }));

const D = 4;
const adapter = () =>
  new QueryAdapter({ model: { id: 'tiny', fingerprint: 'sha256:00', dimensions: D }, projection: { kind: 'low-rank', rank: 1, u: new Float32Array(D).fill(0.1), v: new Float32Array(D).fill(0.2) }, evolving: null });
const record = { user: 'maya', time: '2026-05-07T18:30:00Z', turns: [{ speaker: 'Maya', text: 'I moved.' }], memories: [{ text: 'Maya moved.' }] };

/** Every site, writing to `path`. */
const sites: Record<string, (path: string) => Promise<unknown>> = {
  'QueryAdapter.save': (path) => adapter().save(path),
  saveEvolvingWeights: (path) => saveEvolvingWeights(path, defaultEvolvingWeights(D)),
  exportStreams: (path) => exportStreams(new MemoryStateStore(), path),
  appendMemoryLog: (path) => appendMemoryLog(path, record),
  'resolveHubModel (the cache)': (path) => resolveHubModel('acme/tiny', { cacheDir: path, endpoint: 'http://127.0.0.1:9' }),
};

async function writeError(site: string, path: string): Promise<EvomemError> {
  const error = await sites[site]!(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `${site} should fail on ${path}`).toBeInstanceOf(EvomemError);
  expect((error as EvomemError).code).toBe('WRITE_FAILED');
  return error as EvomemError;
}

describe.each(Object.keys(sites))('%s', (site) => {
  it('names a path that is a folder (EISDIR)', async ({ skip }) => {
    // The hub cache is a folder by design; its files sit at paths the hub names.
    if (site.startsWith('resolveHubModel')) skip();
    const error = await writeError(site, folder);
    expect(error.message).toMatch(new RegExp(`^Cannot (write|append) .*${folder}: ${folder} is a folder; give the path of a file`));
    expect((error.cause as NodeJS.ErrnoException).code).toBe('EISDIR');
    expect((await readdir(folder)).filter((f) => f.endsWith('.tmp')), 'a temporary file was left behind').toEqual([]);
  });

  it('names a path under a regular file (ENOTDIR)', async () => {
    const error = await writeError(site, join(file, 'sub', 'out.json'));
    expect(error.message).toMatch(new RegExp(`^Cannot (write|append) .*: a part of .*${file}.* is a file, not a folder; check the path\\.$`));
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOTDIR');
  });

  it('creates missing folders, or names the missing one (ENOENT)', async () => {
    const path = join(root, `missing-${site.replace(/\W/g, '')}`, 'out.json');
    const outcome = await sites[site]!(path).then(
      () => 'written',
      (e: unknown) => e,
    );
    if (outcome === 'written' || (outcome instanceof EvomemError && outcome.code !== 'WRITE_FAILED')) return; // it made the folder (the hub then fails to download)
    expect(outcome).toBeInstanceOf(EvomemError);
    expect((outcome as EvomemError).message).toContain(`its folder ${join(root, `missing-${site.replace(/\W/g, '')}`)} does not exist; create it first`);
    expect(((outcome as EvomemError).cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it.skipIf(process.getuid?.() === 0)('names a folder this user cannot write (EACCES; skipped as root, where permissions do not apply)', async () => {
    const locked = join(root, `locked-${site.replace(/\W/g, '')}`);
    await mkdir(locked);
    await chmod(locked, 0o500);
    try {
      const error = await writeError(site, join(locked, 'out.json'));
      expect(error.message).toContain('permission denied on');
      expect(['EACCES', 'EPERM']).toContain((error.cause as NodeJS.ErrnoException).code);
    } finally {
      await chmod(locked, 0o700);
    }
  });
});

describe('fileError', () => {
  it('keeps an EvomemError as it is, and shows the message of a code it does not know', () => {
    const own = new EvomemError('STATE_INVALID', 'x');
    expect(fileError(own, '/p', 'write')).toBe(own);
    const odd = Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO', syscall: 'write' });
    expect(fileError(odd, '/p', 'write the adapter to')).toMatchObject({ code: 'WRITE_FAILED', message: 'Cannot write the adapter to /p: EIO: i/o error, write.', cause: odd });
  });
});

if (process.getuid?.() === 0) console.warn('SKIPPED the EACCES cases of files.test.ts: running as root, where folder permissions do not stop writes.');
