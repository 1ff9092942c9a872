import type { DataKey, DataSource, DataTarget } from '@flux/core'
import type { PgClient } from './pg-client.ts'

export interface PgRowsOptions {
  /** The table, `review` or `schema.review`. */
  table: string
  /** The column rows are ordered by and upserted on: the primary key or a unique column. Default `'id'`. */
  key?: string
  /** Columns to read. Default: all (`*`). */
  columns?: readonly string[]
}

/** PostgreSQL's limit of bound parameters per statement. */
const MAX_PARAMETERS = 65_535

/**
 * A table of a pg store (its client, `ctx.store` or `ctx.stores.<name>`) as a source and a
 * target for `copy` and `verifyCopy` from `@flux/core`. Read by keyset pagination
 * (`where key > $1 order by key limit n`: each batch one indexed query, however deep into
 * the table); written with multi-row `insert … on conflict (key) do update`, so a batch
 * written twice leaves one row per key. The target's table must exist, with a primary key
 * or unique index on `key`.
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
  const keyName = options.key ?? 'id'
  const key = quote(keyName)
  const columns = options.columns ? options.columns.map(quote).join(', ') : '*'
  return {
    read: (after, batchSize) => pages<Row>(client, columns, table, keyName, after, batchSize),
    keyOf: (row) => row[keyName] as DataKey,
    async count() {
      const { rows } = await client.query<{ count: string }>(`select count(*) as count from ${table}`)
      return Number(rows[0]!.count)
    },
    async *keys(batchSize) {
      for await (const rows of pages<Row>(client, key, table, keyName, undefined, batchSize))
        yield rows.map((row) => row[keyName] as DataKey)
    },
    async write(rows) {
      if (rows.length === 0) return
      const names = Object.keys(rows[0]!)
      const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / names.length))
      for (let start = 0; start < rows.length; start += perStatement) {
        const chunk = rows.slice(start, start + perStatement)
        const params: unknown[] = []
        const values = chunk.map(
          (row) =>
            `(${names
              .map((name) => {
                params.push(row[name])
                return `$${params.length}`
              })
              .join(', ')})`,
        )
        const updates = names
          .filter((name) => name !== keyName)
          .map((name) => `${quote(name)} = excluded.${quote(name)}`)
        await client.query(
          `insert into ${table} (${names.map(quote).join(', ')}) values ${values.join(', ')} on conflict (${key}) ${
            updates.length > 0 ? `do update set ${updates.join(', ')}` : 'do nothing'
          }`,
          params,
        )
      }
    },
    describe: () => `pg table ${options.table}`,
  }
}

/** Keyset pagination: each batch one query that starts after the last key, so an index on the key serves it at any depth. */
async function* pages<Row extends Record<string, unknown>>(
  client: PgClient,
  columns: string,
  table: string,
  keyName: string,
  after: DataKey | undefined,
  batchSize: number,
): AsyncIterable<Row[]> {
  const key = quote(keyName)
  let last = after
  for (;;) {
    const { rows } =
      last === undefined
        ? await client.query<Row>(`select ${columns} from ${table} order by ${key} limit $1`, [batchSize])
        : await client.query<Row>(`select ${columns} from ${table} where ${key} > $1 order by ${key} limit $2`, [
            last,
            batchSize,
          ])
    if (rows.length > 0) yield rows
    if (rows.length < batchSize) return
    last = rows[rows.length - 1]![keyName] as DataKey
  }
}

const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`
