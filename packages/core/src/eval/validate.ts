import { readFile } from 'node:fs/promises';
import { EvomemError } from '../errors.js';

/** Says where in a dataset file a value sits, for error messages. */
export class Where {
  constructor(
    readonly file: string,
    readonly path: string,
  ) {}

  at(field: string | number): Where {
    return new Where(this.file, typeof field === 'number' ? `${this.path}[${field}]` : `${this.path}.${field}`);
  }

  fail(expected: string, value: unknown): never {
    const got = value === undefined ? 'it is missing' : `got ${JSON.stringify(value)?.slice(0, 60) ?? typeof value}`;
    throw new EvomemError('DATASET_INVALID', `${this.file}: ${this.path} must be ${expected}; ${got}.`);
  }

  object(value: unknown): Record<string, unknown> {
    if (!value || typeof value !== 'object' || Array.isArray(value)) this.fail('an object', value);
    return value as Record<string, unknown>;
  }

  array(value: unknown): unknown[] {
    if (!Array.isArray(value)) this.fail('an array', value);
    return value;
  }

  string(value: unknown): string {
    if (typeof value !== 'string') this.fail('a string', value);
    return value;
  }
}

/** Reads a JSON dataset file, naming the file in every failure. */
export async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new EvomemError('DATASET_INVALID', `Cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new EvomemError('DATASET_INVALID', `${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}
