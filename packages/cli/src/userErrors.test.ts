import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as run, SAMPLE } from './runCli.js';
import { describeUserError } from './userErrors.js';

let dir: string;
let file: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-errors-'));
  file = join(dir, 'a-file.txt');
  await writeFile(file, 'not a folder');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** A failed run as a user sees it: exit code 1 and one `evomem:` line, no stack trace. */
const oneLine = async (args: string[], message: RegExp) => {
  const r = await run(...args);
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^evomem: [^\n]+\n$/);
  expect(r.stderr).toMatch(message);
};

describe('user errors on paths', () => {
  it('name the input path and the fix, for a folder, a missing file and a path through a file', async () => {
    await oneLine(['eval', '--data', dir], new RegExp(`--data ${dir} is a folder; pass a file in it\\.`));
    await oneLine(['eval', '--data', join(dir, 'missing.json')], /--data .*missing\.json does not exist; check the path\./);
    await oneLine(['eval', '--data', join(file, 'x.json')], /--data .*a-file\.txt\/x\.json: a part of this path is a file, not a folder/);
    await oneLine(['mine', '--data', dir, '--out', join(dir, 'n.jsonl')], /--data .* is a folder/);
    await oneLine(['train', '--data', dir, '--out', join(dir, 'adapter')], /--data .* is a folder/);
    await oneLine(['embed', '--in', dir, '--out', join(dir, 'e.jsonl')], /--in .* is a folder/);
    await oneLine(['state', 'import', '--store', `sqlite:${join(dir, 's.db')}`, '--in', dir], /--in .* is a folder/);
    await oneLine(['state', 'list', '--store', `sqlite:${join(dir, 'typo.db')}`], /--store .*typo\.db does not exist/);
  });

  it('name the output path and the fix before any work is done', async () => {
    await oneLine(['eval', '--data', SAMPLE, '--json', dir], new RegExp(`--json ${dir} is a folder; pass a file path`));
    await oneLine(['eval', '--data', SAMPLE, '--json', join(dir, 'no', 'such', 'r.json')], /--json .*r\.json: the folder .*no\/such does not exist; create it first/);
    await oneLine(['eval', '--data', SAMPLE, '--json', join(file, 'r.json')], /--json .*r\.json: .*a-file\.txt is a file, not a folder; check the path\./);
    await oneLine(['mine', '--data', SAMPLE, '--out', dir], /--out .* is a folder/);
    await oneLine(['train', '--data', SAMPLE, '--out', file], /--out .*a-file\.txt is a file; pass a folder\./);
    await oneLine(['train', '--data', SAMPLE, '--out', join(file, 'adapter')], /a-file\.txt is a file, not a folder/);
    await oneLine(['embed', '--in', SAMPLE, '--out', dir], /--out .* is a folder/);
    await oneLine(['state', 'export', '--store', 'memory:', '--out', join(dir, 'none', 'x.evomem')], /--out .*: the folder .* does not exist/);
    expect(await readFile(file, 'utf8')).toBe('not a folder');
  });

  it.skipIf(process.getuid?.() === 0)('name a folder it may not write in (not as root, who may write anywhere)', async () => {
    const locked = join(dir, 'locked');
    await mkdir(locked, { mode: 0o555 });
    await oneLine(['eval', '--data', SAMPLE, '--json', join(locked, 'r.json')], /locked: permission denied; change its permissions or choose another path\./);
    await chmod(locked, 0o755);
  });

  it('turns raw file-system errors into one line with the path, and leaves programming errors alone', async () => {
    const missing = await writeFile(join(dir, 'gone', 'x.json'), '').catch((e: unknown) => e);
    expect(describeUserError(missing)).toMatch(/gone\/x\.json does not exist, or a folder on its path does not/);
    const isDir = await writeFile(dir, '').catch((e: unknown) => e);
    expect(describeUserError(isDir)).toBe(`${dir} is a folder; pass a file path.`);
    const notDir = await readFile(join(file, 'x')).catch((e: unknown) => e);
    expect(describeUserError(notDir)).toMatch(/a-file\.txt\/x: a part of this path is a file/);
    expect(describeUserError(new TypeError('segments.entries is not a function'))).toBeUndefined();
  });
});
