import { FluxError } from '@flux/core'
import type { Compilable, RawBuilder } from 'kysely'
import { kysely, literalSql, rawSql } from './pg-kysely.ts'
import type { SqlExpression } from './pg-schema-ops.ts'

/** Rows per `insert … values` (and per `delete` of the derived down) when `rowsPerStatement` is not given. */
export const DEFAULT_BULK_ROWS_PER_STATEMENT = 1000

/**
 * A value of a bulk row, rendered as an SQL literal by kysely: a string, a number (finite), a
 * bigint, a boolean, `null`, a `Date` (as its ISO-8601 text, which PostgreSQL reads into a
 * date or timestamp column), a plain object or an array (as JSON text, for a `json` or `jsonb`
 * column), or an SQL expression (`schema.expression('now()')`), written as-is. An array for a
 * PostgreSQL array column is given as its text: `'{a,b}'`.
 */
export type BulkValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Date
  | SqlExpression
  | readonly unknown[]
  | { readonly [key: string]: unknown }

/** A row: column name → value. A column missing from a row takes its default. */
export type BulkRow = Readonly<Record<string, BulkValue>>

export interface BulkInsertOptions {
  /**
   * The table's key columns (primary key or a unique key), present in every row: the derived
   * down deletes exactly the inserted rows by them. Without it no down is derived (unless the
   * same migration creates the table, whose down drops it), and the plan says so.
   */
  key?: readonly string[]
  /** Rows per statement. Default {@link DEFAULT_BULK_ROWS_PER_STATEMENT}. */
  rowsPerStatement?: number
}

export interface BulkInsertOperation {
  kind: 'bulkInsert'
  table: string
  rows: readonly BulkRow[]
  options: BulkInsertOptions
}

/** Deletes the rows whose key columns have these values: the derived down of a bulk insert. */
export interface BulkDeleteOperation {
  kind: 'bulkDelete'
  table: string
  key: readonly string[]
  rows: readonly BulkRow[]
  rowsPerStatement?: number
}

/** `schema.bulkInsert(table, rows, options)`: checks the rows now, when the migration is loaded. */
export function bulkInsertOperation(
  table: string,
  rows: readonly BulkRow[],
  options: BulkInsertOptions = {},
): BulkInsertOperation {
  const invalid = (message: string, hint: string) =>
    new FluxError('MIGRATION_INVALID', `bulkInsert ${table}: ${message}`, { hint })
  if (!Array.isArray(rows) || rows.length === 0) throw invalid('has no rows', 'give it an array of at least one row')
  const { rowsPerStatement } = options
  if (rowsPerStatement !== undefined && !(Number.isInteger(rowsPerStatement) && rowsPerStatement > 0)) {
    throw invalid(`rowsPerStatement ${rowsPerStatement} is not a positive integer`, 'give a number such as 1000')
  }
  if (options.key?.length === 0) throw invalid('key names no column', "name the key columns, { key: ['id'] }")
  rows.forEach((row, index) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row) || Object.keys(row).length === 0) {
      throw invalid(`row ${index + 1} is not an object of columns`, "each row is { column: value }, { code: 'EUR' }")
    }
    for (const [column, value] of Object.entries(row)) {
      const problem = problemOf(value)
      if (problem) throw invalid(`row ${index + 1}, column ${column}: ${problem}`, 'see the values a bulk row takes')
    }
    for (const column of options.key ?? []) {
      const value = row[column]
      if (value === undefined || value === null || isExpression(value)) {
        throw invalid(
          `row ${index + 1} has no value for the key column ${column}`,
          'every row gives each key column a value, by which the down deletes it; or drop the key option (no derived down)',
        )
      }
    }
  })
  return { kind: 'bulkInsert', table, rows, options }
}

/**
 * The statements of a bulk insert: one `insert into … values (…), (…)` per
 * `rowsPerStatement` rows, every value an SQL literal rendered by kysely. Without a key and a
 * table created earlier in `operations`, the first says in a comment that no down is derived.
 */
export function compileBulkInsert(
  operation: BulkInsertOperation,
  schema: string | undefined,
  operations: readonly { kind: string; table?: string }[],
): string[] {
  const { offline } = kysely()
  const db = schema === undefined ? offline : offline.withSchema(schema)
  const statements = chunks(operation.rows, operation.options.rowsPerStatement).map((rows) =>
    rendered(db.insertInto(operation.table).values(rows.map(literalRow))),
  )
  if (bulkInverse(operation, operations) === undefined) {
    statements[0] = `-- bulkInsert ${operation.table}: no key columns given, so no down is derived for its rows\n${statements[0]}`
  }
  return statements
}

/** `delete from … where key in (…)`, one per `rowsPerStatement` rows. */
export function compileBulkDelete(operation: BulkDeleteOperation, schema: string | undefined): string[] {
  const { offline } = kysely()
  const db = schema === undefined ? offline : offline.withSchema(schema)
  const [first, ...rest] = operation.key
  return chunks(operation.rows, operation.rowsPerStatement).map((rows) =>
    rendered(
      db.deleteFrom(operation.table).where((where) =>
        rest.length === 0
          ? where(
              where.ref(first!),
              'in',
              rows.map((row) => literal(row[first!]!)),
            )
          : where(
              where.refTuple(first!, ...(rest as [string])),
              'in',
              rows.map((row) =>
                where.tuple(...(operation.key.map((column) => literal(row[column]!)) as [never, never])),
              ),
            ),
      ),
    ),
  )
}

/**
 * The inverse of a bulk insert: `null` when the table is created earlier in the same
 * operations (its down drops the table, rows and all); a delete by key when the key is given;
 * otherwise `undefined`, none.
 */
export function bulkInverse(
  operation: BulkInsertOperation,
  operations: readonly { kind: string; table?: string }[],
): BulkDeleteOperation | null | undefined {
  const index = operations.indexOf(operation as never)
  const created = operations.some(
    (each, at) => each.kind === 'createTable' && each.table === operation.table && (index < 0 || at < index),
  )
  if (created) return null
  const { key, rowsPerStatement } = operation.options
  if (!key) return undefined
  const rows = operation.rows.map((row) => Object.fromEntries(key.map((column) => [column, row[column]!])))
  const inverse: BulkDeleteOperation = { kind: 'bulkDelete', table: operation.table, key, rows }
  if (rowsPerStatement !== undefined) inverse.rowsPerStatement = rowsPerStatement
  return inverse
}

/**
 * The SQL of a bulk insert for a migration written by hand, with its down where `key` is
 * given: `defineMigration({ store, sql: bulkInsertSql('currency', rows, { key: ['code'] }), … })`.
 */
export function bulkInsertSql(
  table: string,
  rows: readonly BulkRow[],
  options: BulkInsertOptions & { schema?: string } = {},
): { up: string[]; down?: string[] } {
  const operation = bulkInsertOperation(table, rows, options)
  const up = compileBulkInsert(operation, options.schema, [operation])
  const inverse = bulkInverse(operation, [operation])
  return inverse ? { up, down: compileBulkDelete(inverse, options.schema) } : { up }
}

function chunks<T>(items: readonly T[], size = DEFAULT_BULK_ROWS_PER_STATEMENT): T[][] {
  const result: T[][] = []
  for (let start = 0; start < items.length; start += size) result.push(items.slice(start, start + size))
  return result
}

function literalRow(row: BulkRow): Record<string, RawBuilder<unknown>> {
  return Object.fromEntries(Object.entries(row).map(([column, value]) => [column, literal(value)]))
}

/** The value as an SQL literal, escaped by kysely (`sql.lit`). */
function literal(value: BulkValue): RawBuilder<unknown> {
  if (isExpression(value)) return rawSql(value.sqlExpression)
  if (value instanceof Date || value === null || typeof value !== 'object') return literalSql(value)
  return literalSql(JSON.stringify(value))
}

function isExpression(value: unknown): value is SqlExpression {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as SqlExpression).sqlExpression === 'string' &&
    Object.keys(value).length === 1
  )
}

function problemOf(value: unknown): string | undefined {
  if (value === undefined) return 'is undefined: leave the column out for its default, or give null'
  if (typeof value === 'number' && !Number.isFinite(value)) {
    return `${value} is not a finite number: give it as a string ('${value}') for a float column`
  }
  if (value instanceof Date && Number.isNaN(value.getTime())) return 'is an invalid Date'
  if (typeof value === 'function' || typeof value === 'symbol') return `a ${typeof value} is not a value`
  if (typeof value === 'object' && value !== null && !(value instanceof Date) && !isExpression(value)) {
    const prototype = Object.getPrototypeOf(value)
    if (!Array.isArray(value) && prototype !== Object.prototype && prototype !== null) {
      return `a ${prototype?.constructor?.name ?? 'class instance'} is not a value: give a string, number, boolean, null, Date, plain object or array (JSON), or schema.expression()`
    }
  }
  return undefined
}

function rendered(builder: Compilable): string {
  const compiled = builder.compile()
  if (compiled.parameters.length > 0) throw new Error(`bulk statement compiled with parameters: ${compiled.sql}`)
  return compiled.sql
}
