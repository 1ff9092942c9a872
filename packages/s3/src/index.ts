export type { S3Client, S3StoreOptions } from './s3-options.ts'
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_FLUX_DIR,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_PART_SIZE,
  DEFAULT_REQUEST_TIMEOUT_MS,
} from './s3-options.ts'
export { s3Store } from './s3-store.ts'
