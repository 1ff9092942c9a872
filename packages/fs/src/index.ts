export type { FsClient, FsStoreOptions } from './fs-options.ts'
export { DEFAULT_FLUX_DIR } from './fs-options.ts'
export { fsStore } from './fs-store.ts'
