export * from './types.js';
export * from './core.js';
export * from './limits.js';
export type { LogStore, StoreState, CommitBatch, NewEntry, NodeHash, NodeId } from './store/types.js';
export { openSqliteStore, SQLITE_FILE_NAME, type SqliteStoreOptions } from './store/sqlite/sqlite.js';
