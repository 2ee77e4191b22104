/** Machine-readable reasons an evomem call failed. */
export type EvomemErrorCode =
  | 'MODEL_NOT_FOUND'
  | 'MODEL_FILE_MISSING'
  | 'MODEL_FILE_INVALID'
  | 'MODEL_NOT_INSTALLED'
  | 'GRAPH_UNSUPPORTED'
  | 'OFFLINE'
  | 'DOWNLOAD_FAILED'
  | 'CHECKSUM_MISMATCH'
  | 'DEVICE_UNAVAILABLE'
  | 'INPUT_TOO_LONG'
  | 'INVALID_OPTION'
  | 'INFERENCE_FAILED'
  | 'DATASET_INVALID'
  | 'STATE_INVALID'
  | 'SEGMENT_INVALID'
  | 'SEGMENT_DUPLICATE'
  | 'STATE_CONFLICT'
  | 'STORE_UNAVAILABLE'
  | 'MODULE_NOT_INSTALLED'
  | 'WRITE_FAILED'
  | 'DISPOSED';

/**
 * The one error class of `@evomem/core`. `code` says what kind of failure it is; the
 * message says which input was wrong and what to do; `cause` keeps the underlying error.
 *
 * @example
 * try { await Encoder.load({ model: './missing' }) }
 * catch (error) { if (error instanceof EvomemError && error.code === 'MODEL_NOT_FOUND') ... }
 */
export class EvomemError extends Error {
  override readonly name = 'EvomemError';
  readonly code: EvomemErrorCode;

  constructor(code: EvomemErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
