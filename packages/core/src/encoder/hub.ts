import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { EvomemError } from '../errors.js';
import { fileError, isFileSystemError, writingTo } from '../util/files.js';
import { checkOptions, describeValue, is } from '../util/options.js';
import { ONNX_FILE_BY_DTYPE, type ModelDtype } from './modelFolder.js';

/** Progress of one file download. `total` is undefined when the server does not say. */
export interface DownloadProgress {
  model: string;
  file: string;
  loaded: number;
  total: number | undefined;
}

export interface HubOptions {
  /** Branch, tag or commit to download. @default 'main' */
  revision?: string;
  /** Root of the local model cache. @default $EVOMEM_CACHE, else ~/.cache/evomem */
  cacheDir?: string;
  /** Never touch the network; use the cache or fail. @default true when HF_HUB_OFFLINE=1 or EVOMEM_OFFLINE=1 */
  offline?: boolean;
  /** Hub address. @default $HF_ENDPOINT, else https://huggingface.co */
  endpoint?: string;
  /** Access token for private or gated models. @default $HF_TOKEN */
  token?: string;
  /** Which ONNX weights to fetch. @default 'fp32' */
  dtype?: ModelDtype;
  /** Called as bytes arrive. */
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

const HUB_SPEC = {
  revision: is.nonEmptyString,
  cacheDir: is.nonEmptyString,
  offline: is.boolean,
  endpoint: is.nonEmptyString,
  token: is.string,
  dtype: is.oneOf(...Object.keys(ONNX_FILE_BY_DTYPE)),
  onProgress: is.function,
  signal: { expect: 'an AbortSignal', test: (v: unknown) => v instanceof AbortSignal },
};

const MANIFEST = '.evomem-manifest.json';
/** How a failed write in the cache is told, with where the cache can go instead. */
const CACHE_ACTION = 'write the model cache (move it with the cacheDir option or EVOMEM_CACHE) at';
const REQUIRED = ['config.json', 'tokenizer.json', 'tokenizer_config.json'];
const OPTIONAL = [
  'special_tokens_map.json',
  'config_sentence_transformers.json',
  'sentence_bert_config.json',
  'modules.json',
  '1_Pooling/config.json',
];

/** True when `model` names a hub repository (`owner/name`) rather than a local path. */
export function isHubId(model: string): boolean {
  return /^[\w.-]+\/[\w.-]+$/.test(model) && !model.startsWith('.') && !model.includes('..');
}

/** evomem's cache root: `cacheDir` when given, else $EVOMEM_CACHE, else ~/.cache/evomem. */
export function cacheRoot(cacheDir?: string): string {
  return cacheDir ?? process.env.EVOMEM_CACHE ?? join(homedir(), '.cache', 'evomem');
}

/** The cache folder a hub model is (or will be) stored in. */
export function hubCacheFolder(id: string, options: Pick<HubOptions, 'cacheDir' | 'revision'> = {}): string {
  return join(cacheRoot(options.cacheDir), 'models', id.replace('/', '--'), options.revision ?? 'main');
}

/**
 * Returns a local folder holding hub model `id`: the cached copy when complete, otherwise
 * downloads it (resumable: partial files are continued with HTTP ranges; verified against
 * the hub's sha256 for LFS files and git blob sha1 for the rest).
 */
export async function resolveHubModel(id: string, options: HubOptions = {}): Promise<string> {
  checkOptions('resolveHubModel', options, HUB_SPEC);
  if (typeof id !== 'string' || !isHubId(id)) throw new EvomemError('INVALID_OPTION', `resolveHubModel takes a hub model id such as "Xenova/all-MiniLM-L6-v2", got ${describeValue(id)}.`);
  const folder = hubCacheFolder(id, options);
  const dtype = options.dtype ?? 'fp32';
  const manifest = await readManifest(folder);
  // int8 is made here from the fp32 graph (see readModelFolder), so a cached fp32 export
  // serves it; a cached shipped model_int8.onnx (no fp32 graph in the repository) too, but
  // only once the fp32 graph is known to be missing, so every machine runs the same graph.
  const fetched = dtype === 'int8' ? 'fp32' : dtype;
  if (manifest && (manifest.dtypes.includes(fetched) || (dtype === 'int8' && manifest.noFp32 === true && manifest.dtypes.includes('int8')))) return folder;

  const offline = options.offline ?? (process.env.HF_HUB_OFFLINE === '1' || process.env.EVOMEM_OFFLINE === '1');
  if (offline) {
    throw new EvomemError(
      'OFFLINE',
      `Model ${id} (dtype ${dtype}) is not in the local cache and downloads are off. Either copy an ONNX export of it ` +
        `(onnx/${ONNX_FILE_BY_DTYPE[dtype === 'int8' ? 'fp32' : dtype]}, tokenizer.json, tokenizer_config.json, config.json) into ${folder} and pass model: '${folder}', ` +
        `or allow downloads (offline: false, unset HF_HUB_OFFLINE / EVOMEM_OFFLINE), or omit model to use the offline default (@evomem/model-use-lite).`,
    );
  }

  const endpoint = (options.endpoint ?? process.env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/$/, '');
  const revision = options.revision ?? 'main';
  const token = options.token ?? process.env.HF_TOKEN;
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const url = (file: string) => `${endpoint}/${id}/resolve/${encodeURIComponent(revision)}/${file}`;
  const fetchFile = (file: string, required: boolean) =>
    downloadFile({ model: id, file, url: url(file), dest: join(folder, file), headers, required, options });

  await writingTo(folder, CACHE_ACTION, () => mkdir(folder, { recursive: true }));
  for (const file of REQUIRED) await fetchFile(file, true);
  for (const file of OPTIONAL) await fetchFile(file, false);
  const onnxName = ONNX_FILE_BY_DTYPE[dtype];
  const names = dtype === 'int8' ? [ONNX_FILE_BY_DTYPE.fp32, onnxName] : [onnxName];
  let onnxFile: string | undefined;
  for (const candidate of names.flatMap((name) => [`onnx/${name}`, name])) {
    if (await fetchFile(candidate, false)) {
      onnxFile = candidate;
      break;
    }
  }
  if (!onnxFile) {
    throw new EvomemError(
      'MODEL_FILE_MISSING',
      `${id} has no ONNX weights for dtype ${dtype} (looked for ${names.map((n) => `onnx/${n} and ${n}`).join(', then ')} at ${endpoint}). ` +
        `Pick a repository with an ONNX export (for example one under https://huggingface.co/onnx-community or Xenova/), or another dtype.`,
    );
  }
  // Large graphs keep their weights in a side file next to the graph.
  await fetchFile(`${onnxFile}_data`, false);
  const previous = manifest?.dtypes ?? [];
  // What was fetched: the fp32 graph serves int8 too; a shipped int8 file serves int8 only.
  const got: ModelDtype = dtype === 'int8' && !onnxFile.endsWith(ONNX_FILE_BY_DTYPE.int8) ? 'fp32' : dtype;
  const next: Manifest = { id, revision, dtypes: [...new Set([...previous, got])], ...(dtype === 'int8' && got === 'int8' ? { noFp32: true } : {}), completedAt: new Date().toISOString() };
  await writingTo(join(folder, MANIFEST), CACHE_ACTION, () => writeFile(join(folder, MANIFEST), JSON.stringify(next, null, 2)));
  return folder;
}

interface Manifest {
  id: string;
  revision: string;
  /** Set when an int8 request found no fp32 graph in the repository and fetched its model_int8.onnx. */
  noFp32?: boolean;
  dtypes: ModelDtype[];
  completedAt: string;
}

async function readManifest(folder: string): Promise<Manifest | undefined> {
  const text = await readFile(join(folder, MANIFEST), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  try {
    const value = JSON.parse(text) as Manifest;
    return Array.isArray(value.dtypes) ? value : undefined;
  } catch {
    return undefined;
  }
}

interface DownloadRequest {
  model: string;
  file: string;
  url: string;
  dest: string;
  headers: Record<string, string>;
  required: boolean;
  options: HubOptions;
}

/** Downloads one file; returns false when the hub has no such (optional) file. */
async function downloadFile(request: DownloadRequest): Promise<boolean> {
  const { model, file, url, dest, headers, options } = request;
  if (await exists(dest)) return true;
  const fail = (message: string, cause?: unknown) =>
    new EvomemError('DOWNLOAD_FAILED', `Downloading ${file} of ${model} from ${url} failed: ${message}`, cause === undefined ? {} : { cause });

  // The resolve endpoint answers a HEAD with the checksum before any redirect to the CDN.
  let head: Response;
  try {
    head = await fetch(url, { method: 'HEAD', headers, redirect: 'manual', ...(options.signal ? { signal: options.signal } : {}) });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw new EvomemError(
      'DOWNLOAD_FAILED',
      `Could not reach ${new URL(url).origin} to download ${model} (${(error as Error).message}). ` +
        `If this machine is offline, download the model folder elsewhere and pass its path as model, or omit model to use the offline default (@evomem/model-use-lite).`,
      { cause: error },
    );
  }
  if (head.status === 404) {
    if (request.required) throw fail(`the hub has no ${file}. Is ${model} a sentence-embedding model with a tokenizer?`);
    return false;
  }
  if (head.status === 401 || head.status === 403) throw fail(`access denied (HTTP ${head.status}). Set HF_TOKEN (or the token option) for gated or private models.`);
  if (head.status >= 400) throw fail(`HTTP ${head.status} ${head.statusText}`);
  const etag = (head.headers.get('x-linked-etag') ?? head.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
  const sizeHeader = head.headers.get('x-linked-size') ?? head.headers.get('content-length');
  const total = sizeHeader ? Number(sizeHeader) : undefined;

  const partial = `${dest}.incomplete`;
  await writingTo(dest, CACHE_ACTION, () => mkdir(dirname(dest), { recursive: true }));
  let start = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (total !== undefined && start > total) {
    await rm(partial, { force: true });
    start = 0;
  }
  let response: Response;
  try {
    response = await fetch(url, {
      headers: start > 0 ? { ...headers, range: `bytes=${start}-` } : headers,
      redirect: 'follow',
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    throw fail(`${(error as Error).message}. Run again to resume from byte ${start}.`, error);
  }
  if (response.status === 416 && start > 0) {
    // The partial file is already whole.
    await response.body?.cancel();
  } else if (response.status === 200 || response.status === 206) {
    if (response.status === 200) start = 0;
    if (!response.body) throw fail('empty response body');
    let loaded = start;
    // Each chunk is on disk before the next is read, so a broken transfer resumes from
    // every byte that arrived.
    const file = await writingTo(partial, CACHE_ACTION, () => open(partial, start > 0 ? 'a' : 'w'));
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        await file.write(chunk);
        loaded += chunk.byteLength;
        options.onProgress?.({ model, file: request.file, loaded, total });
      }
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (isFileSystemError(error)) throw fileError(error, partial, CACHE_ACTION);
      throw fail(`the transfer broke off at byte ${loaded} (${(error as Error).message}). Run again to resume.`, error);
    } finally {
      await file.close();
    }
  } else {
    await response.body?.cancel();
    throw fail(`HTTP ${response.status} ${response.statusText}`);
  }

  await verify(partial, etag, file, model);
  await writingTo(dest, CACHE_ACTION, () => rename(partial, dest));
  return true;
}

/** Checks a downloaded file against the hub's ETag: sha256 (LFS files) or git blob sha1. */
async function verify(path: string, etag: string, file: string, model: string): Promise<void> {
  let hash: Hash;
  if (/^[0-9a-f]{64}$/.test(etag)) hash = createHash('sha256');
  else if (/^[0-9a-f]{40}$/.test(etag)) {
    hash = createHash('sha1');
    hash.update(`blob ${(await stat(path)).size}\0`);
  } else return;
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  const actual = hash.digest('hex');
  if (actual !== etag) {
    await rm(path, { force: true });
    throw new EvomemError(
      'CHECKSUM_MISMATCH',
      `${file} of ${model} does not match the hub's checksum (expected ${etag}, got ${actual}); the partial download was deleted. Run again to download it afresh.`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}
