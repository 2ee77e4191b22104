import { copyFile, link, mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { workDir } from './shared.js';

/**
 * A model folder laid out for transformers.js that runs evomem's int8 graph: the source
 * folder's tokenizer and config files, and `int8Path` as `onnx/model_int8.onnx`, the file
 * transformers.js 4.3.1 loads for `dtype: 'int8'` (DEFAULT_DTYPE_SUFFIX_MAPPING in
 * src/utils/dtypes.js: int8 → `_int8`; src/models/session.js: `onnx/model${suffix}.onnx`).
 * Both runtimes then open the same bytes. Rebuilt every run, so it never holds the graph of
 * an older rewrite. Returns the folder, `bench/.work/transformers-int8/<name>`.
 */
export async function transformersJsInt8Folder(name: string, sourceDir: string, int8Path: string): Promise<string> {
  const dir = join(workDir, 'transformers-int8', name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'onnx'), { recursive: true });
  for (const entry of await readdir(sourceDir, { withFileTypes: true })) {
    if (entry.isFile()) await linkOrCopy(join(sourceDir, entry.name), join(dir, entry.name));
  }
  await linkOrCopy(int8Path, join(dir, 'onnx', 'model_int8.onnx'));
  return dir;
}

/** A hard link where the file system allows one (no copy of the weights), else a copy. */
async function linkOrCopy(from: string, to: string): Promise<void> {
  await link(from, to).catch(() => copyFile(from, to));
}
