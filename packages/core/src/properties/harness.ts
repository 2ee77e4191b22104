import fc from 'fast-check';
import { expect } from 'vitest';
import { EvomemError } from '../errors.js';

/**
 * The contract every public entry point keeps under any input: it returns, or it throws an
 * `EvomemError` with a code. Another error class (TypeError, RangeError, a raw fs error)
 * or a hang fails the property with the input that caused it.
 */
export async function resultOrEvomemError<T>(what: string, run: () => Promise<T> | T, timeoutMs = 20_000): Promise<{ ok: true; value: T } | { ok: false; error: EvomemError }> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${timeoutMs} ms (a hang)`)), timeoutMs);
  });
  try {
    return { ok: true, value: await Promise.race([Promise.resolve().then(run), hang]) };
  } catch (error) {
    if (error instanceof EvomemError && typeof error.code === 'string' && error.message.length > 0) return { ok: false, error };
    const shown = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack ?? ''}` : String(error);
    expect.fail(`${what} threw something other than an EvomemError:\n${shown}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Every vector finite and of the given length. */
export function expectVectors(vectors: readonly Float32Array[], dimensions: number): void {
  for (const v of vectors) {
    expect(v).toHaveLength(dimensions);
    expect(v.every(Number.isFinite), 'a vector holds a non-finite value').toBe(true);
  }
}

/** Whitespace of every kind Unicode names (White_Space), for blank-text inputs. */
const WHITESPACE = [' ', '\t', '\n', '\r', '\v', '\f', '\u0085', '\u00a0', '\u1680', '\u2000', '\u2007', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000'];

/**
 * Texts from every Unicode class: ASCII, any code point (astral planes, combining marks,
 * controls, private use), lone surrogates, whitespace-only strings, and long repeats.
 */
export const anyText: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.string({ unit: 'grapheme', maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom('\ud800', '\udfff', 'a', '\u0301', '\u200d', '\ufeff', '\u0000', '😀', '中'), maxLength: 64 }),
  fc.array(fc.constantFrom(...WHITESPACE), { maxLength: 20 }).map((parts) => parts.join('')),
  fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }), fc.integer({ min: 100, max: 20_000 })).map(([unit, times]) => unit.repeat(times)),
);

/** A random value of any JavaScript shape, for options and fields that expect something else. */
export const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.anything({ maxDepth: 2 }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -1, 0, 1e9, 0.5, '', 'x', null, undefined, true, [], {}),
);

/**
 * Option objects around an entry point's real keys: valid values, wrong-typed values,
 * misspelt keys and strangers, in any mix.
 */
export function optionObjects(valid: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(valid);
  const typo = fc.constantFrom(...keys).chain((key) =>
    fc.integer({ min: 0, max: Math.max(0, key.length - 1) }).map((at) => key.slice(0, at) + key.slice(at + 1) + (at === 0 ? 'x' : '')),
  );
  const entry = fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...keys).chain((key) => valid[key]!.map((value) => [key, value] as const)) },
    { weight: 2, arbitrary: fc.tuple(fc.constantFrom(...keys), anyValue) },
    { weight: 1, arbitrary: fc.tuple(typo, anyValue) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 12 }), anyValue) },
  );
  return fc.array(entry, { maxLength: 5 }).map((entries) => Object.fromEntries(entries));
}

/** A byte string damaged the ways files are: cut short, bits flipped, or both. */
export function damaged(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  const cut = fc.integer({ min: 0, max: Math.max(0, bytes.length - 1) }).map((n) => bytes.slice(0, n));
  const flip = fc.array(fc.tuple(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }).map((flips) => {
    const copy = bytes.slice();
    for (const [at, bit] of flips) copy[at]! ^= 1 << bit;
    return copy;
  });
  return fc.oneof(cut, flip, fc.tuple(cut, fc.integer({ min: 0, max: 7 })).map(([b, bit]) => (b.length === 0 ? b : b.map((x, i) => (i === b.length >> 1 ? x ^ (1 << bit) : x)))));
}

/** Settings for every property: reproducible by seed, shrinking bounded so a failure reports fast. */
export const runs = (numRuns: number): fc.Parameters<unknown> => ({ numRuns, seed: Number(process.env.EVOMEM_PROPERTY_SEED ?? 20261203), endOnFailure: process.env.CI !== undefined });
