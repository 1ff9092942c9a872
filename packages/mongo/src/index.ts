export type { IndexChanges, IndexSpec, MongoStoreClient, RenameFieldOptions, ValidatorOptions } from './mongo-client.ts'
export type { MongoStoreOptions } from './mongo-options.ts'
export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_LEDGER_COLLECTION, DEFAULT_LOCK_COLLECTION } from './mongo-options.ts'
export { mongoStore } from './mongo-store.ts'
