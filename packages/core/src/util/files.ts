import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { EvomemError } from '../errors.js';

/** What a file-system error code means for the path it names, and what to do about it. */
const REASONS: Record<string, (path: string) => string> = {
  EISDIR: (p) => `${p} is a folder; give the path of a file (in that folder, or beside it)`,
  ENOENT: (p) => `its folder ${dirname(p)} does not exist; create it first, or give a path whose folder exists`,
  ENOTDIR: (p) => `a part of ${p} is a file, not a folder; check the path`,
  EACCES: (p) => `permission denied on ${p}; make ${dirname(p)} writable for this user, or give another path`,
  EPERM: (p) => `the operation is not permitted on ${p}; change its permissions, or give another path`,
  EEXIST: (p) => `${p} already exists; remove it, or give a path that does not exist yet`,
  ENOTEMPTY: (p) => `${p} is a folder that is not empty; give the path of a file`,
  EROFS: (p) => `${p} is on a read-only file system; give a path on a writable one`,
  ENOSPC: (p) => `no space is left on the device that holds ${p}; free some space, or write elsewhere`,
  EDQUOT: (p) => `the disk quota is used up on the device that holds ${p}; free some space, or write elsewhere`,
  ENAMETOOLONG: (p) => `the path ${p} is too long; give a shorter one`,
  ELOOP: (p) => `${p} runs through a loop of symbolic links; check the path`,
  EMFILE: () => 'too many files are open in this process; close some, or raise the limit (ulimit -n)',
};

/** A Node fs error of a code `fileError` explains (`EISDIR`, `ENOSPC`, ...; not a network code such as `ECONNRESET`). */
export function isFileSystemError(error: unknown): error is NodeJS.ErrnoException & { dest?: string } {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return error instanceof Error && typeof code === 'string' && Object.hasOwn(REASONS, code);
}

/**
 * The `EvomemError` (`WRITE_FAILED`) for a file operation that failed: it names the action
 * and the path, says in words why (for the exact path the system named: a `rename` onto a
 * folder names the folder) and what to do, and keeps the error as `cause`. An
 * `EvomemError` is returned as it is.
 *
 * @example
 * await writeFile(path, text).catch((error) => { throw fileError(error, path, 'save the adapter to'); });
 */
export function fileError(error: unknown, path: string, action: string): EvomemError {
  if (error instanceof EvomemError) return error;
  const fs = isFileSystemError(error) ? error : undefined;
  const code = fs?.code ?? '';
  const at = (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') && fs?.dest ? fs.dest : (fs?.path ?? path);
  const reason = REASONS[code]?.(at) ?? `${(error as Error)?.message ?? String(error)}`;
  return new EvomemError('WRITE_FAILED', `Cannot ${action} ${path}: ${reason}.`, { cause: error });
}

/** Runs `work`, turning what it throws into `fileError(error, path, action)`. */
export async function writingTo<T>(path: string, action: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw fileError(error, path, action);
  }
}

/**
 * Writes `data` to `path` whole: into a temporary file beside it, then renamed over it, so
 * a crash never leaves half a file. Creates the folder. Failures are `fileError`s naming
 * `what` ("the adapter"); the temporary file is removed.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, what: string): Promise<void> {
  // Unique per call, not per process: two writes of one path in one process must not share a temp file.
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writingTo(path, `write ${what} to`, async () => {
    try {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(tmp, data);
      await rename(tmp, path);
    } catch (error) {
      await rm(tmp, { force: true }).catch(() => {});
      throw error;
    }
  });
}
