import {
  type BulkDeleteOperation,
  type BulkInsertOperation,
  type BulkInsertOptions,
  type BulkRow,
  bulkInsertOperation,
} from './pg-bulk-insert.ts'

/**
 * Schema operations: plain data, one per DDL statement, made by {@link SchemaOperations}
 * (Alembic's `op.*` names). `pg-schema-compile.ts` turns them into SQL, offline.
 */

/** An SQL expression written as-is: `schema.expression('now()')`, for a column's default. */
export interface SqlExpression {
  readonly sqlExpression: string
}

/** A column's default: a value (quoted as a literal) or an SQL expression. */
export type ColumnDefault = string | number | boolean | SqlExpression

/** A foreign key's action on delete or update of the row it references. */
export type ReferentialAction = 'cascade' | 'restrict' | 'no action' | 'set null' | 'set default'

/** A column of `createTable` or `addColumn`. */
export interface ColumnSpec {
  /** The PostgreSQL type as written in SQL: `'integer'`, `'varchar(80)'`, `'timestamptz'`, an enum's name. */
  type: string
  /** `not null`. Default `false`. */
  notNull?: boolean
  default?: ColumnDefault
  /** `primary key` on this column alone. */
  primaryKey?: boolean
  /** `unique` on this column alone. */
  unique?: boolean
  /** The column it references, `'table.column'`: schema-qualified like the table when the migration has a `schema`. */
  references?: string
  onDelete?: ReferentialAction
  onUpdate?: ReferentialAction
  /** A check on this column: an SQL expression, `'price >= 0'`. */
  check?: string
}

/** The state of a column before `alterColumn`, which makes its inverse certain. */
export interface ColumnWas {
  type?: string
  /** How to convert back to `type`: `using` of the derived down. */
  using?: string
  /** The default before; `null`: there was none. */
  default?: ColumnDefault | null
  /** Whether it was not null: the derived down restores it. Default: the opposite of the change's `notNull`. */
  notNull?: boolean
}

/** What `alterColumn` changes. */
export interface ColumnChange {
  /** A new type; the table is rewritten unless the conversion is binary-compatible. */
  type?: string
  /** How to convert existing values to `type`: `'price::numeric(10,2)'`. */
  using?: string
  /** `true`: set not null; `false`: drop not null. */
  notNull?: boolean
  /** A new default; `null` drops it. */
  default?: ColumnDefault | null
  /** The column before the change, for a derived `down`: without it a type or default change has none. */
  was?: ColumnWas
}

export interface ForeignKeyOptions {
  onDelete?: ReferentialAction
  onUpdate?: ReferentialAction
}

/** A column of an index, with an order if any (`'price desc'`), or an expression: `schema.expression('lower(name)')`. */
export type IndexColumn = string | SqlExpression

export interface IndexOptions {
  unique?: boolean
  /** A partial index's predicate, an SQL expression: `'deleted_at is null'`. */
  where?: string
  /**
   * `create index concurrently`: does not block writes, but cannot run in a transaction, so
   * the migration needs `transaction: false`. Its derived down drops it concurrently too.
   */
  concurrently?: boolean
}

export interface EnumValueOptions {
  before?: string
  after?: string
}

/** One schema operation. */
export type SchemaOperation =
  | {
      kind: 'createTable'
      table: string
      columns: Record<string, ColumnSpec>
      primaryKey?: readonly string[]
    }
  | { kind: 'dropTable'; table: string; cascade?: boolean }
  | { kind: 'renameTable'; table: string; to: string }
  | { kind: 'addColumn'; table: string; column: string; spec: ColumnSpec }
  | { kind: 'dropColumn'; table: string; column: string }
  | { kind: 'renameColumn'; table: string; column: string; to: string }
  | { kind: 'alterColumn'; table: string; column: string; change: ColumnChange }
  | { kind: 'createIndex'; name: string; table: string; columns: readonly IndexColumn[]; options: IndexOptions }
  | { kind: 'dropIndex'; name: string; concurrently?: boolean }
  | {
      kind: 'addForeignKey'
      name: string
      table: string
      columns: readonly string[]
      references: string
      referencedColumns: readonly string[]
      options: ForeignKeyOptions
    }
  | { kind: 'addUnique'; name: string; table: string; columns: readonly string[] }
  | { kind: 'addCheck'; name: string; table: string; expression: string }
  | { kind: 'addPrimaryKey'; name: string; table: string; columns: readonly string[] }
  | { kind: 'dropConstraint'; name: string; table: string }
  | { kind: 'createEnum'; name: string; values: readonly string[] }
  | { kind: 'dropEnum'; name: string }
  | { kind: 'addEnumValue'; name: string; value: string; options: EnumValueOptions }
  | { kind: 'sql'; text: string }
  | BulkInsertOperation
  | BulkDeleteOperation

/**
 * What `schemaMigration`'s callback receives: one method per operation, each returning it as
 * data for the migration to compile.
 *
 * @example
 * ```ts
 * (schema) => [
 *   schema.createTable('hotel', { id: { type: 'integer', primaryKey: true }, name: { type: 'text', notNull: true } }),
 *   schema.createIndex('hotel_name', 'hotel', ['name']),
 * ]
 * ```
 */
export const schemaOperations = {
  /** Creates a table; `primaryKey` is a composite key (a single one goes in its column). Down: drops it. */
  createTable: (
    table: string,
    columns: Record<string, ColumnSpec>,
    options: { primaryKey?: readonly string[] } = {},
  ): SchemaOperation => ({ kind: 'createTable', table, columns, ...options }),
  /** Drops a table and its rows (`cascade`: and what depends on it). No derived down. */
  dropTable: (table: string, options: { cascade?: boolean } = {}): SchemaOperation => ({
    kind: 'dropTable',
    table,
    ...options,
  }),
  /** Down: renames it back. */
  renameTable: (table: string, to: string): SchemaOperation => ({ kind: 'renameTable', table, to }),
  /** Down: drops the column. */
  addColumn: (table: string, column: string, spec: ColumnSpec): SchemaOperation => ({
    kind: 'addColumn',
    table,
    column,
    spec,
  }),
  /** Drops a column and its values. No derived down. */
  dropColumn: (table: string, column: string): SchemaOperation => ({ kind: 'dropColumn', table, column }),
  /** Down: renames it back. */
  renameColumn: (table: string, column: string, to: string): SchemaOperation => ({
    kind: 'renameColumn',
    table,
    column,
    to,
  }),
  /**
   * Changes a column's type, null-ness or default, in one statement. Down: the reverse change,
   * where `was` gives the type and default before (not null: `was.notNull`, else the opposite of `notNull`).
   */
  alterColumn: (table: string, column: string, change: ColumnChange): SchemaOperation => ({
    kind: 'alterColumn',
    table,
    column,
    change,
  }),
  /** Columns may carry an order (`'price desc'`) or be expressions (`schema.expression('lower(name)')`). Down: drops it. */
  createIndex: (
    name: string,
    table: string,
    columns: readonly IndexColumn[],
    options: IndexOptions = {},
  ): SchemaOperation => ({
    kind: 'createIndex',
    name,
    table,
    columns,
    options,
  }),
  /** No derived down. */
  dropIndex: (name: string, options: { concurrently?: boolean } = {}): SchemaOperation => ({
    kind: 'dropIndex',
    name,
    ...options,
  }),
  /** Down: drops the constraint. */
  addForeignKey: (
    name: string,
    table: string,
    columns: readonly string[],
    references: string,
    referencedColumns: readonly string[],
    options: ForeignKeyOptions = {},
  ): SchemaOperation => ({ kind: 'addForeignKey', name, table, columns, references, referencedColumns, options }),
  /** Down: drops the constraint. */
  addUnique: (name: string, table: string, columns: readonly string[]): SchemaOperation => ({
    kind: 'addUnique',
    name,
    table,
    columns,
  }),
  /** `expression` is SQL: `'price >= 0'`. Down: drops the constraint. */
  addCheck: (name: string, table: string, expression: string): SchemaOperation => ({
    kind: 'addCheck',
    name,
    table,
    expression,
  }),
  /** Down: drops the constraint. */
  addPrimaryKey: (name: string, table: string, columns: readonly string[]): SchemaOperation => ({
    kind: 'addPrimaryKey',
    name,
    table,
    columns,
  }),
  /** No derived down. */
  dropConstraint: (name: string, table: string): SchemaOperation => ({ kind: 'dropConstraint', name, table }),
  /** Down: drops the type. */
  createEnum: (name: string, values: readonly string[]): SchemaOperation => ({ kind: 'createEnum', name, values }),
  /** No derived down. */
  dropEnum: (name: string): SchemaOperation => ({ kind: 'dropEnum', name }),
  /** No derived down: PostgreSQL cannot remove a value from an enum. */
  addEnumValue: (name: string, value: string, options: EnumValueOptions = {}): SchemaOperation => ({
    kind: 'addEnumValue',
    name,
    value,
    options,
  }),
  /**
   * Inserts rows (Alembic's `bulk_insert`), as multi-row `insert … values` statements of SQL
   * literals, 1,000 rows each, so `flux plan --sql` shows them. Down: deletes those rows by
   * `key` (their key columns), or nothing when the same migration creates the table; without
   * either, none.
   */
  bulkInsert: (table: string, rows: readonly BulkRow[], options: BulkInsertOptions = {}): SchemaOperation =>
    bulkInsertOperation(table, rows, options),
  /** Any statement, as written: the escape hatch. Not schema-qualified. No derived down. */
  sql: (text: string): SchemaOperation => ({ kind: 'sql', text }),
  /** An SQL expression, for a default (`default: schema.expression('now()')`) or an index column. */
  expression: (text: string): SqlExpression => ({ sqlExpression: text }),
}

export type SchemaOperations = typeof schemaOperations
