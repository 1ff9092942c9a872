export type {
  AcquireOptions,
  Adapter,
  AdapterSpecVersion,
  BlobBody,
  BlobStore,
  Capabilities,
  Lease,
  LeaseHolder,
  Ledger,
  LedgerEntry,
  LedgerStatus,
} from './adapter.ts'
export { capabilitiesOf } from './adapter.ts'
export type { FluxErrorCode, FluxErrorOptions } from './errors.ts'
export { ExitCode, exitCodeOf, FluxError, messageOf } from './errors.ts'
export type { CreateLeaseOptions, PollForLeaseOptions } from './lease.ts'
export {
  createLease,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_LEASE_WAIT_MS,
  describeHolder,
  isHolderGone,
  pollForLease,
} from './lease.ts'
export type { MigrationContext, MigrationDefinition, Progress } from './migration.ts'
export { defineMigration, isMigrationDefinition } from './migration.ts'
