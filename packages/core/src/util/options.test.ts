import { describe, expect, it } from 'vitest';
import { EvomemError } from '../errors.js';
import { checkOptions, describeValue, is, nearestKey } from './options.js';

interface Sample {
  device?: 'auto' | 'cpu';
  threads?: number;
  normalize?: boolean;
  scale?: number;
  model?: string;
}
const spec = { device: is.oneOf('auto', 'cpu'), threads: is.int(1), normalize: is.boolean, scale: is.number(0, 1), model: is.nonEmptyString };

function failure(options: unknown): EvomemError {
  try {
    checkOptions<Sample>('Thing.load', options as Sample, spec);
  } catch (error) {
    expect(error).toBeInstanceOf(EvomemError);
    expect((error as EvomemError).code).toBe('INVALID_OPTION');
    return error as EvomemError;
  }
  throw new Error(`checkOptions accepted ${JSON.stringify(options)}`);
}

describe('checkOptions', () => {
  it('names an unknown key and the nearest valid one', () => {
    expect(failure({ devise: 'cpu' }).message).toBe("Thing.load: unknown option 'devise'. Did you mean 'device'? Valid options: device, threads, normalize, scale, model.");
    expect(failure({ modle: '/x' }).message).toContain("Did you mean 'model'?");
    expect(failure({ Threads: 2 }).message).toContain("Did you mean 'threads'?");
    expect(failure({ zzzzzz: 1 }).message).not.toContain('Did you mean');
  });

  it('names the key, what it takes and what it got', () => {
    expect(failure({ normalize: 'no' }).message).toBe(`Thing.load: option 'normalize' must be true or false, got "no".`);
    expect(failure({ threads: 0 }).message).toContain("'threads' must be a positive integer, got 0");
    expect(failure({ threads: 1.5 }).message).toContain('got 1.5');
    expect(failure({ scale: Number.NaN }).message).toContain("'scale' must be a finite number >= 0 and <= 1, got NaN");
    expect(failure({ device: 'gpu' }).message).toContain(`must be "auto" or "cpu", got "gpu"`);
    expect(failure({ model: '' }).message).toContain('must be a non-empty string');
  });

  it('refuses what is not an options object', () => {
    expect(failure('cpu').message).toBe('Thing.load takes an options object, got "cpu".');
    expect(failure(null).message).toContain('got null');
    expect(failure([1]).message).toContain('got an array of 1');
  });

  it('accepts valid options, undefined values and no options', () => {
    const options: Sample = { device: 'cpu', threads: 2, normalize: false, scale: 0.5, model: undefined };
    expect(checkOptions<Sample>('Thing.load', options, spec)).toBe(options);
    expect(checkOptions<Sample>('Thing.load', undefined, spec)).toEqual({});
  });
});

describe('nearestKey and describeValue', () => {
  it('finds swaps, insertions and deletions, not strangers', () => {
    expect(nearestKey('maxLenght', ['maxLength', 'maxBatchSize'])).toBe('maxLength');
    expect(nearestKey('dimension', ['dimensions', 'device'])).toBe('dimensions');
    expect(nearestKey('q', ['queryPrompt'])).toBeUndefined();
  });

  it('keeps long strings short', () => {
    expect(describeValue('x'.repeat(100))).toHaveLength(62);
    expect(describeValue(new Map())).toBe('an object (Map)');
  });
});
