import { EvomemError } from '../errors.js';

/** What one option accepts: a test and the words an error uses to say so. */
export interface OptionRule {
  /** Completes "must be ...", e.g. "a positive integer". */
  readonly expect: string;
  readonly test: (value: unknown) => boolean;
}

/** Every key an options object may have, with its rule. */
export type OptionSpec<T> = { readonly [K in keyof Required<T>]: OptionRule };

const rule = (expect: string, test: (value: unknown) => boolean): OptionRule => ({ expect, test });

/** The rules public options use. `undefined` always means "the default" and is never checked. */
export const is = {
  any: rule('anything', () => true),
  string: rule('a string', (v) => typeof v === 'string'),
  nonEmptyString: rule('a non-empty string', (v) => typeof v === 'string' && v.length > 0),
  boolean: rule('true or false', (v) => typeof v === 'boolean'),
  function: rule('a function', (v) => typeof v === 'function'),
  object: rule('an object', (v) => typeof v === 'object' && v !== null && !Array.isArray(v)),
  /** An integer in [min, max]. */
  int(min: number, max = Number.MAX_SAFE_INTEGER): OptionRule {
    const expect = min === 1 && max === Number.MAX_SAFE_INTEGER ? 'a positive integer' : max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`;
    return rule(expect, (v) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max);
  },
  /** A finite number in [min, max] (or (min, max] when `exclusiveMin`). */
  number(min = -Infinity, max = Infinity, exclusiveMin = false): OptionRule {
    const low = min === -Infinity ? '' : exclusiveMin ? `> ${min}` : `>= ${min}`;
    const high = max === Infinity ? '' : `<= ${max}`;
    const bounds = [low, high].filter(Boolean).join(' and ');
    return rule(bounds ? `a finite number ${bounds}` : 'a finite number', (v) => typeof v === 'number' && Number.isFinite(v) && (exclusiveMin ? v > min : v >= min) && v <= max);
  },
  /** One of the listed literals. */
  oneOf(...values: readonly unknown[]): OptionRule {
    const words = values.map((v) => JSON.stringify(v));
    const expect = words.length === 1 ? words[0]! : `${words.slice(0, -1).join(', ')} or ${words.at(-1)}`;
    return rule(expect, (v) => values.includes(v));
  },
  /** Any of the rules. */
  anyOf(...rules: readonly OptionRule[]): OptionRule {
    return rule(rules.map((r) => r.expect).join(' or '), (v) => rules.some((r) => r.test(v)));
  },
  /** An instance of a class (by `instanceof`). */
  instance(type: abstract new (...args: never[]) => unknown, name = type.name): OptionRule {
    return rule(`${/^[aeiou]/i.test(name) ? 'an' : 'a'} ${name}`, (v) => v instanceof type);
  },
} as const;

/**
 * Checks a public options object: every key must be known (a typo names the nearest
 * valid key) and every value that is not `undefined` must pass its rule. Throws
 * `INVALID_OPTION` naming `where`, the key and what it takes; returns the object typed.
 *
 * @example
 * const options = checkOptions('Encoder.load', input, { device: is.oneOf('auto', 'cpu'), threads: is.int(1) });
 */
export function checkOptions<T extends object>(where: string, options: T | undefined, spec: OptionSpec<T>): T {
  if (options === undefined) return {} as T;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new EvomemError('INVALID_OPTION', `${where} takes an options object, got ${describeValue(options)}.`);
  }
  const known = Object.keys(spec);
  for (const [key, value] of Object.entries(options)) {
    const check = (spec as Record<string, OptionRule | undefined>)[key];
    if (check === undefined) {
      const near = nearestKey(key, known);
      const hint = near === undefined ? '' : ` Did you mean '${near}'?`;
      throw new EvomemError('INVALID_OPTION', `${where}: unknown option '${key}'.${hint} Valid options: ${known.join(', ')}.`);
    }
    if (value !== undefined && !check.test(value)) {
      throw new EvomemError('INVALID_OPTION', `${where}: option '${key}' must be ${check.expect}, got ${describeValue(value)}.`);
    }
  }
  return options;
}

/** A value as an error message shows it: short, and safe for any input. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
    case 'number':
    case 'boolean':
    case 'bigint':
      return String(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    case 'undefined':
      return 'undefined';
    default:
      return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  }
}

/** The known key a typo most likely meant: case-insensitive match, else edit distance within a third of its length. */
export function nearestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const exact = known.find((k) => k.toLowerCase() === lower);
  if (exact !== undefined) return exact;
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const candidate of known) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

/** Optimal-string-alignment distance: insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}
