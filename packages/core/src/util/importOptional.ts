import { EvomemError } from '../errors.js';

/** Imports an optional peer dependency, or says which package to install for what. */
export async function importOptional<T>(name: string, purpose: string): Promise<T> {
  try {
    return (await import(name)) as T;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new EvomemError('MODULE_NOT_INSTALLED', `${purpose} needs the package ${name}: npm i ${name}`, { cause: error });
    }
    throw error;
  }
}
