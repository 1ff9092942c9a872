export type {
  AcquireOptions,
  Adapter,
  AdapterSpecVersion,
  BatchOptions,
  BatchOutcome,
  BlobBody,
  BlobStore,
  Capabilities,
  FleetBoard,
  Lease,
  LeaseHolder,
  Ledger,
  LedgerChange,
  LedgerEntry,
  LedgerStatus,
  LintFinding,
  LintSubject,
  MigrationFileLoader,
  OpenOptions,
} from './adapter.ts'
export { batchesTransactions, capabilitiesOf } from './adapter.ts'
export type { ComponentConfig, FluxConfig, LeaseConfig, ValidConfig } from './config.ts'
export {
  CONFIG_FILE_NAMES,
  DEFAULT_APP_COMPONENT,
  DEFAULT_MIGRATIONS_DIR,
  defineConfig,
  validateConfig,
} from './config.ts'
export { blobKeyProblem, describeChanges, invalidBlobKey, ledgerEntryProblem } from './contract-checks.ts'
export type { BlobRow, BlobsOptions } from './data/blobs.ts'
export { blobs, DEFAULT_BLOB_CONCURRENCY } from './data/blobs.ts'
export type { CopyCheckpoint, CopyOptions, CopyResult } from './data/copy.ts'
export { copy, DEFAULT_BATCH_SIZE } from './data/copy.ts'
export type { DataKey, DataSource, DataTarget } from './data/data-types.ts'
export type { CopyReport, VerifyCopyOptions } from './data/verify-copy.ts'
export { DEFAULT_EXAMPLES, verifyCopy } from './data/verify-copy.ts'
export type { FluxPackageField, PackageComponent } from './discover.ts'
export { discoverComponents } from './discover.ts'
export type { FluxErrorCode, FluxErrorOptions } from './errors.ts'
export { ExitCode, exitCodeOf, FluxError, messageOf } from './errors.ts'
export type { FluxEvent, FluxEventListener, StepResult, StepStatus } from './events.ts'
export type { Fleet, FleetOptions } from './fleet/fleet.ts'
export { fleet, isFleet } from './fleet/fleet.ts'
export type { FleetProgress, FleetReport, FleetRunOptions, FleetSelection, MemberResult } from './fleet/fleet-run.ts'
export { DEFAULT_FLEET_CONCURRENCY, migrateFleets, selectFleets } from './fleet/fleet-run.ts'
export type { FleetStatus, MemberStatus } from './fleet/fleet-status.ts'
export { readFleetStatus } from './fleet/fleet-status.ts'
export type { Graph, MigrationNode } from './graph/graph.ts'
export { buildGraph } from './graph/graph.ts'
export { headsByComponent, singleHead, toDot, toMermaid } from './graph/graph-tools.ts'
export type { ResolvedTarget } from './graph/targets.ts'
export { resolveRevision, resolveTarget, revisionRange } from './graph/targets.ts'
export type { CreateLeaseOptions, PollForLeaseOptions } from './lease.ts'
export {
  createLease,
  DEFAULT_LEASE_TTL_MS,
  DEFAULT_LEASE_WAIT_MS,
  describeHolder,
  isHolderGone,
  leaseTakenOver,
  pollForLease,
} from './lease.ts'
export { acquireLeases, releaseLeases, withLeases } from './lease-set.ts'
export type { AutoResolution, MarkResult } from './lifecycle.ts'
export { markMigrations, resolveAutomatically } from './lifecycle.ts'
export { projectFrame } from './load-errors.ts'
export type { Component, LoadedMigration, MigrationFileLoaders } from './load-migrations.ts'
export {
  checksumOf,
  isMigrationFileName,
  listMigrationFiles,
  loadMigrations,
  MIGRATION_EXTENSIONS,
} from './load-migrations.ts'
export type { MigrationContext, MigrationDefinition, Progress } from './migration.ts'
export { defineMigration, isMigrationDefinition } from './migration.ts'
export type { ModuleImporter } from './module-loader.ts'
export { importModule, installFluxResolutionFallback } from './module-loader.ts'
export type { AcceptedChange, AcceptResult, ProjectStatus, StoreStatus, VerifyReport } from './operations.ts'
export { acceptChanges, previewPlan, readStatus, resolveDirty, unlock, verify } from './operations.ts'
export type {
  MigrationStatus,
  Plan,
  PlanInput,
  PlanStep,
  Problem,
  ProblemKind,
  StatusRow,
  StepAction,
  StoreInfo,
} from './plan.ts'
export { createPlan, statusOf } from './plan.ts'
export type { StepReason } from './plan-down.ts'
export { describeReason } from './plan-down.ts'
export type { LoadProjectOptions, Project } from './project.ts'
export { findConfigFile, loadProject } from './project.ts'
export type { PlanLane } from './run/lanes.ts'
export { DEFAULT_CONCURRENCY } from './run/lanes.ts'
export type { LaneReport, MigrateOptions, RunReport } from './runner.ts'
export { FLUX_VERSION, migrate } from './runner.ts'
export type { SumProblem } from './sum.ts'
export {
  assertSumsMatch,
  checkSum,
  formatSum,
  isInstalledPackageDir,
  SUM_FILE,
  sumMismatches,
  updateSum,
  writeSum,
} from './sum.ts'
export { unsetStore, unsetStoreError } from './unset-store.ts'
export { writeFileAtomic } from './write-file-atomic.ts'
