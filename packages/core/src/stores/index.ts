export type { StateStore, StateTransaction, StateChange, StoredStream, LedgerEntry } from './StateStore.js';
export { MemoryStateStore } from './memory.js';
export { SqliteStateStore, type SqliteStateStoreOptions } from './sqlite.js';
export { PostgresStateStore, type PostgresStateStoreOptions, type PgPool, type PgClient } from './postgres.js';
export { openStateStore } from './openStateStore.js';
export { exportStreams, importStreams, importLegacyStream, type TransferReport, type ExportOptions, type ImportOptions, type LegacyImportOptions } from './stateFile.js';
