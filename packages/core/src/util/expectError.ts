import { expect } from 'vitest';
import { EvomemError } from '../errors.js';

/** Test helper: the EvomemError a call is refused with; acceptance or another error class fails the test. */
export async function refusal(run: () => Promise<unknown> | unknown): Promise<EvomemError> {
  const error = await Promise.resolve().then(run).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'it was accepted').toBeInstanceOf(EvomemError);
  return error as EvomemError;
}

/** Test helper: `CODE: message` of the EvomemError a call fails with, or 'resolved'; another error class fails the test. */
export async function failure(run: () => unknown): Promise<string> {
  try {
    await run();
    return 'resolved';
  } catch (error) {
    if (!(error instanceof EvomemError)) throw error;
    return `${error.code}: ${error.message}`;
  }
}
