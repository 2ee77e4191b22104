import { createHash } from 'node:crypto';
import { EvomemError, type EvomemErrorCode } from '../errors.js';
import { describeValue, type OptionRule } from './options.js';

/**
 * Largest weight magnitude a stored projection may hold. Trained projections stay near the
 * identity (entries well under 10); 1e6 leaves room for any training run while keeping
 * A q, for unit q at any encoder width, far inside float32, so a weight that passes can
 * never turn an embedding into Infinity or NaN.
 */
export const WEIGHT_LIMIT = 1e6;

/**
 * Checks the fields of state read from a file (or handed over in memory): a bad value is an
 * error naming where it came from and the field, never a NaN vector later.
 *
 * @example
 * const check = new FieldChecker('adapter.json', 'Train the adapter again.');
 * const temperature = check.value<number>(json.temperature, 'temperature', is.number(0, Infinity, true));
 */
export class FieldChecker {
  constructor(
    readonly source: string,
    /** What the user can do, appended to every message. */
    readonly fix: string,
    readonly code: EvomemErrorCode = 'STATE_INVALID',
  ) {}

  fail(field: string, why: string): EvomemError {
    return new EvomemError(this.code, `${this.source}: field "${field}" ${why}. ${this.fix}`);
  }

  /** `value` when it is present and passes `rule`. */
  value<T>(value: unknown, field: string, rule: OptionRule): T {
    if (value === undefined) throw this.fail(field, `is missing; it must be ${rule.expect}`);
    if (!rule.test(value)) throw this.fail(field, `must be ${rule.expect}, got ${describeValue(value)}`);
    return value as T;
  }

  /** `value` when it is a plain object. */
  object(value: unknown, field: string): Record<string, unknown> {
    if (value === undefined) throw this.fail(field, 'is missing; it must be an object');
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw this.fail(field, `must be an object, got ${describeValue(value)}`);
    return value as Record<string, unknown>;
  }

  /** Checks that `values` holds `length` finite numbers no larger than `WEIGHT_LIMIT` in size. */
  weights(values: ArrayLike<unknown>, field: string, length: number, shape: string): void {
    if (values.length !== length) throw this.fail(field, `holds ${values.length} values; ${shape} needs ${length}`);
    for (let i = 0; i < length; i++) {
      const x = values[i];
      if (typeof x !== 'number' || !Number.isFinite(x)) throw this.fail(field, `has a non-finite value (${describeValue(x)}) at index ${i}`);
      if (Math.abs(x) > WEIGHT_LIMIT) throw this.fail(field, `has a value out of range (${x}; weights are within +-${WEIGHT_LIMIT}) at index ${i}`);
    }
  }
}

/**
 * `body` with a `checksum` field last: the SHA-256 of its JSON text. Files written with it
 * are refused when a byte changes, where a flipped digit would otherwise load as another
 * finite weight.
 */
export function withChecksum<T extends object>(body: T): T & { checksum: string } {
  return { ...body, checksum: checksumOf(body) };
}

/**
 * Verifies the `checksum` field of parsed JSON written by `withChecksum`, if it has one
 * (files written by hand or by older versions have none). Every top-level key must be one
 * of `fields` or `checksum`: otherwise one flipped bit in the key's name would turn the
 * check off. Throws with `fail`'s error.
 */
export function verifyChecksum(json: Record<string, unknown>, fields: readonly string[], fail: (why: string) => Error): void {
  const unknown = Object.keys(json).find((key) => key !== 'checksum' && !fields.includes(key));
  if (unknown !== undefined) throw fail(`has an unknown field ${JSON.stringify(unknown)} (known: ${[...fields, 'checksum'].join(', ')}): it was damaged, or written by something else`);
  if (!('checksum' in json)) return;
  const { checksum, ...body } = json;
  if (typeof checksum !== 'string' || checksum !== checksumOf(body)) {
    throw fail('fails its checksum: it was damaged, or edited by hand. Restore it or make it again; to keep a deliberate edit, delete its "checksum" field');
  }
}

/** Text that JSON.stringify wrote, parsed and stringified again, comes back the same (key order, shortest numbers), so the hash survives the round trip. */
function checksumOf(body: object): string {
  return `sha256:${createHash('sha256').update(JSON.stringify(body)).digest('hex')}`;
}
