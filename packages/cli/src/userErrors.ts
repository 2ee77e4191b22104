import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { EvomemError } from '@evomem/core';

/** What a file-system error code means to a user, and what to do about it. */
const FS_REASONS: Record<string, (path: string) => string> = {
  ENOENT: (p) => `${p} does not exist, or a folder on its path does not; check the path, or create the folder first.`,
  EISDIR: (p) => `${p} is a folder; pass a file path.`,
  ENOTDIR: (p) => `${p}: a part of this path is a file, not a folder; check the path.`,
  EACCES: (p) => `${p}: permission denied; change its permissions or choose another path.`,
  EPERM: (p) => `${p}: operation not permitted; change its permissions or choose another path.`,
  EEXIST: (p) => `${p} already exists; delete it or choose another path.`,
  EROFS: (p) => `${p} is on a read-only file system; choose a path on a writable one.`,
  ENOSPC: (p) => `no space left on the device that holds ${p}; free some space or write elsewhere.`,
  EDQUOT: (p) => `disk quota exceeded writing ${p}; free some space or write elsewhere.`,
  ENAMETOOLONG: (p) => `${p}: the path is too long; choose a shorter one.`,
  ELOOP: (p) => `${p}: too many symbolic links (a link loop?); check the path.`,
};

function fsCode(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && code in FS_REASONS ? code : undefined;
}

/**
 * The one line the CLI prints for a failure the user can fix (an `EvomemError`, or a file
 * system error on a path they gave), or undefined for a programming error, whose stack
 * trace is worth keeping.
 */
export function describeUserError(error: unknown): string | undefined {
  if (error instanceof EvomemError) return error.message;
  const code = fsCode(error);
  if (!code) return undefined;
  const e = error as NodeJS.ErrnoException & { dest?: string };
  return FS_REASONS[code]!(e.path ?? e.dest ?? 'a file this command uses');
}

/** Not there, also when a part of the path is a file: the checks then name that file. */
const missing = (error: unknown) => ['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '');

function pathError(flag: string, path: string, error: unknown): EvomemError {
  const code = fsCode(error);
  const reason = code ? FS_REASONS[code]!(path) : `${path}: ${(error as Error).message}`;
  return new EvomemError('INVALID_OPTION', `${flag} ${reason}`, { cause: error });
}

/** Checked before any work starts, so a mistyped path fails in a second, not after a long run. */
export async function inputFile(path: string, flag: string): Promise<void> {
  const info = await stat(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new EvomemError('INVALID_OPTION', `${flag} ${path} does not exist; check the path.`, { cause: error });
    throw pathError(flag, path, error);
  });
  if (info.isDirectory()) throw new EvomemError('INVALID_OPTION', `${flag} ${path} is a folder; pass a file in it.`);
  await access(path, constants.R_OK).catch((error: unknown) => {
    throw pathError(flag, path, error);
  });
}

/** A file the command will write: not a folder, in a folder that exists and can be written. */
export async function outputFile(path: string, flag: string): Promise<void> {
  const info = await stat(path).catch((error: unknown) => {
    if (missing(error)) return undefined;
    throw pathError(flag, path, error);
  });
  if (info?.isDirectory()) throw new EvomemError('INVALID_OPTION', `${flag} ${path} is a folder; pass a file path, e.g. ${resolve(path, 'out.json')}.`);
  if (info) {
    await access(path, constants.W_OK).catch((error: unknown) => {
      throw pathError(flag, path, error);
    });
    return;
  }
  const folder = dirname(resolve(path));
  const parent = await stat(folder).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new EvomemError('INVALID_OPTION', `${flag} ${path}: the folder ${folder} does not exist; create it first or choose another path.`, { cause: error });
    throw pathError(flag, path, error);
  });
  if (!parent.isDirectory()) throw new EvomemError('INVALID_OPTION', `${flag} ${path}: ${folder} is a file, not a folder; check the path.`);
  await access(folder, constants.W_OK).catch((error: unknown) => {
    throw pathError(flag, folder, error);
  });
}

/** A folder the command will create or write into: not a file, and its nearest existing ancestor a writable folder. */
export async function outputDir(path: string, flag: string): Promise<void> {
  let at = resolve(path);
  for (;;) {
    const info = await stat(at).catch((error: unknown) => {
      if (missing(error)) return undefined;
      throw pathError(flag, path, error);
    });
    if (info) {
      if (!info.isDirectory()) {
        throw new EvomemError('INVALID_OPTION', at === resolve(path) ? `${flag} ${path} is a file; pass a folder.` : `${flag} ${path}: ${at} is a file, not a folder; check the path.`);
      }
      await access(at, constants.W_OK).catch((error: unknown) => {
        throw pathError(flag, at, error);
      });
      return;
    }
    const up = dirname(at);
    if (up === at) return;
    at = up;
  }
}
