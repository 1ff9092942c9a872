import type { DataKey, DataSource, DataTarget } from '@flux/core'
import type { PgClient } from './pg-client.ts'
import { columnTypesOf, quote, upsertRows } from './pg-data-write.ts'

export interface PgRowsOptions {
  /** The table, `review` or `schema.review`. */
  table: string
  /**
   * The column rows are ordered by and upserted on: the primary key or a unique column.
   * Several columns for a composite key (`['hotel_id', 'id']`): rows are then ordered by them
   * in that order, and a row's key (in checkpoints, in `verifyCopy`'s reports) is the array of
   * its values. Default `'id'`.
   */
  key?: string | readonly string[]
  /** Columns to read. Default: all (`*`). */
  columns?: readonly string[]
}

/**
 * A table of a pg store (its client, `ctx.store` or `ctx.stores.<name>`) as a source and a
 * target for `copy` and `verifyCopy` from `@flux/core`. Read by keyset pagination
 * (`where key > $1 order by key limit n`, with a composite key the row value
 * `where (a, b) > ($1, $2) order by a, b`: each batch one indexed query, however deep into
 * the table); written with `insert … select * from unnest($1::int4[], …) on conflict (key) do
 * update`, one array per column (a multi-row `values` list where a column is itself an array),
 * so a batch written twice leaves one row per key. The target's table must exist, with a primary key
 * or unique index on `key` (on all its columns, in any order).
 *
 * @example
 * ```ts
 * await copy({ from: pgRows(ctx.stores.main, { table: 'review', key: 'id' }), to: mongoDocuments(ctx.store, 'reviews'), context: ctx })
 * ```
 */
export function pgRows<Row extends Record<string, unknown> = Record<string, any>>(
  client: PgClient,
  options: PgRowsOptions,
): DataSource<Row> & DataTarget<Row> {
  const table = options.table.split('.').map(quote).join('.')
  const keyNames: readonly string[] = typeof options.key === 'string' ? [options.key] : (options.key ?? ['id'])
  if (keyNames.length === 0) throw new RangeError(`pgRows(${options.table}): key names no column`)
  const keyOf =
    keyNames.length === 1
      ? (row: Row) => row[keyNames[0]!] as DataKey
      : (row: Row) => keyNames.map((name) => row[name] as DataKey)
  const keyColumns = keyNames.map(quote).join(', ')
  const columns = options.columns ? options.columns.map(quote).join(', ') : '*'
  const types = columnTypesOf(client, table)
  const pages = (select: string, after: DataKey | undefined, batchSize: number) =>
    keysetPages<Row>(client, { select, table, keyNames, keyOf }, after, batchSize)
  return {
    read: (after, batchSize) => pages(columns, after, batchSize),
    keyOf,
    async count() {
      const { rows } = await client.query<{ count: string }>(`select count(*) as count from ${table}`)
      return Number(rows[0]!.count)
    },
    async *keys(batchSize) {
      for await (const rows of pages(keyColumns, undefined, batchSize)) yield rows.map(keyOf)
    },
    write: (rows) => upsertRows(client, { table, keyNames }, rows, types),
    describe: () => `pg table ${options.table}`,
  }
}

interface Keyset<Row> {
  select: string
  table: string
  keyNames: readonly string[]
  keyOf: (row: Row) => DataKey
}

/**
 * Keyset pagination: each batch one query that starts after the last key (a row value
 * comparison for a composite key, which an index on those columns serves), so an index
 * on the key serves it at any depth.
 */
async function* keysetPages<Row extends Record<string, unknown>>(
  client: PgClient,
  { select, table, keyNames, keyOf }: Keyset<Row>,
  after: DataKey | undefined,
  batchSize: number,
): AsyncIterable<Row[]> {
  const order = keyNames.map(quote).join(', ')
  const keyValue = keyNames.length === 1 ? order : `(${order})`
  const afterValue = keyNames.length === 1 ? '$1' : `(${keyNames.map((_, index) => `$${index + 1}`).join(', ')})`
  const paged = `select ${select} from ${table} where ${keyValue} > ${afterValue} order by ${order} limit $${keyNames.length + 1}`
  let last = after
  for (;;) {
    const { rows } =
      last === undefined
        ? await client.query<Row>(`select ${select} from ${table} order by ${order} limit $1`, [batchSize])
        : await client.query<Row>(paged, [...keyValues(last, keyNames), batchSize])
    if (rows.length > 0) yield rows
    if (rows.length < batchSize) return
    last = keyOf(rows[rows.length - 1]!)
  }
}

/** A checkpoint's key as the query's parameters: one value, or one per column of a composite key. */
function keyValues(key: DataKey, keyNames: readonly string[]): unknown[] {
  if (keyNames.length === 1) return [key]
  if (!Array.isArray(key) || key.length !== keyNames.length)
    throw new RangeError(
      `a key of (${keyNames.join(', ')}) must be an array of ${keyNames.length} values, got ${JSON.stringify(key)}`,
    )
  return key
}
