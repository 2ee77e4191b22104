import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStateStore } from './memory.js';
import { openStateStore } from './openStateStore.js';
import { PostgresStateStore } from './postgres.js';
import { SqliteStateStore } from './sqlite.js';
import { stateStoreContract } from './stateStoreContract.js';
import { startPostgres } from './fixtures/postgres.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evomem-stores-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

stateStoreContract('memory', {
  async open() {
    // The store object is the data, so every handle is that object, and closing a handle leaves it open.
    const store = new MemoryStateStore();
    const handle = () =>
      new Proxy(store, {
        get: (target, key) => (key === 'close' ? async () => {} : typeof Reflect.get(target, key) === 'function' ? Reflect.get(target, key).bind(target) : Reflect.get(target, key)),
      });
    return { store: handle(), url: null, reopen: async () => handle() };
  },
});

let files = 0;
stateStoreContract('sqlite', {
  async open() {
    const path = join(dir, `state-${files++}.db`);
    return { store: await SqliteStateStore.open({ path }), url: `sqlite:${path}`, reopen: () => SqliteStateStore.open({ path }) };
  },
});

let postgres: Awaited<ReturnType<typeof startPostgres>> | undefined;
describe('postgres', () => {
  beforeAll(async () => {
    postgres = await startPostgres();
  });
  afterAll(async () => {
    await postgres?.stop();
  });
  let databases = 0;
  stateStoreContract('postgres', {
    async open() {
      // Each test gets a database of its own on the one server.
      const connectionString = await postgres!.database(`contract_${databases++}`);
      return { store: await PostgresStateStore.open({ connectionString }), url: connectionString, reopen: () => PostgresStateStore.open({ connectionString }) };
    },
  });
});

describe('openStateStore', () => {
  it('opens each kind from one string, and names the forms it takes', async () => {
    expect((await openStateStore('memory:')).kind).toBe('memory');
    const sqlite = await openStateStore(`sqlite:${join(dir, 'nested', 'x.db')}`);
    expect(sqlite.kind).toBe('sqlite');
    await sqlite.close();
    await expect(openStateStore('redis://localhost')).rejects.toMatchObject({ code: 'INVALID_OPTION', message: expect.stringContaining('sqlite:PATH') });
    await expect(SqliteStateStore.open({ path: dir })).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', message: expect.stringContaining(dir) });
    await expect(SqliteStateStore.open({ path: join(dir, 'y.db'), tablePrefix: 'x; DROP TABLE' })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });

  it('names the server when PostgreSQL is unreachable, without the password', async () => {
    const error = await PostgresStateStore.open({ connectionString: 'postgres://u:secret@127.0.0.1:1/db' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect((error as Error).message).toContain('127.0.0.1:1');
    expect((error as Error).message).not.toContain('secret');
  });
});
