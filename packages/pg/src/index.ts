export { lintMigrations } from './lint/pg-lint.ts'
export { lintIgnore } from './lint/pg-lint-ignore.ts'
export type { LintRule } from './lint/pg-lint-rules.ts'
export { LINT_RULES } from './lint/pg-lint-rules.ts'
export type { PgClient, PgResult } from './pg-client.ts'
export type { PgRowsOptions } from './pg-data.ts'
export { pgRows } from './pg-data.ts'
export type { PgLockMode, PgliteInstance, PgStoreOptions } from './pg-options.ts'
export { DEFAULT_LEDGER_TABLE, DEFAULT_SCHEMA, FLEETS_TABLE_SUFFIX, LOCK_TABLE_SUFFIX } from './pg-options.ts'
export type { SqlMigrationScript } from './pg-sql-file.ts'
export { loadSqlMigration, SQL_MIGRATION_EXTENSION, sqlOf } from './pg-sql-file.ts'
export type { SqlStatement } from './pg-sql-split.ts'
export { splitSql } from './pg-sql-split.ts'
export { pgStore } from './pg-store.ts'
export type {
  BulkDeleteOperation,
  BulkInsertOperation,
  BulkInsertOptions,
  BulkRow,
  BulkValue,
} from './schema/pg-bulk-insert.ts'
export { bulkInsertSql, DEFAULT_BULK_ROWS_PER_STATEMENT } from './schema/pg-bulk-insert.ts'
export type { RebuildResult, RebuildTableOptions } from './schema/pg-rebuild.ts'
export { DEFAULT_REBUILD_LOCK_RETRIES, DEFAULT_REBUILD_LOCK_TIMEOUT_MS, rebuildTable } from './schema/pg-rebuild.ts'
export type { RebuildMigrationOptions } from './schema/pg-rebuild-migration.ts'
export { rebuildMigration } from './schema/pg-rebuild-migration.ts'
export type { RebuildChange } from './schema/pg-rebuild-sql.ts'
export { REBUILD_NEW_SUFFIX, REBUILD_OLD_SUFFIX } from './schema/pg-rebuild-sql.ts'
export type { SchemaMigrationOptions, SchemaOperationList } from './schema/pg-schema-migration.ts'
export { schemaMigration, schemaOperationsOf } from './schema/pg-schema-migration.ts'
export type {
  ColumnChange,
  ColumnDefault,
  ColumnSpec,
  ColumnWas,
  EnumValueOptions,
  ForeignKeyOptions,
  IndexColumn,
  IndexOptions,
  ReferentialAction,
  SchemaOperation,
  SchemaOperations,
  SqlExpression,
} from './schema/pg-schema-ops.ts'
