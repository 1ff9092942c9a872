import type { PgClient } from './pg-client.ts'

/** PostgreSQL's limit of bound parameters per statement. */
const MAX_PARAMETERS = 65_535

/** Where {@link upsertRows} writes: the quoted table, and the key's column names. */
export interface UpsertTarget {
  table: string
  keyNames: readonly string[]
}

/**
 * Writes `rows` with `insert … on conflict (key) do update`, the columns being those of the
 * first row. One statement per batch whose values are one array per column
 * (`select * from unnest($1::int4[], $2::text[])`): its text and its parameters do not grow
 * with the rows, so the server parses and plans far less than for a multi-row `values`
 * list (measured: about twice as fast for batches of 1,000 rows). Columns whose type is itself
 * an array (which `unnest` would flatten), or that the catalog does not know, fall back to the
 * multi-row `values` list. `types` caches the table's column types (read once).
 */
export async function upsertRows(
  client: PgClient,
  target: UpsertTarget,
  rows: readonly Record<string, unknown>[],
  types: () => Promise<Map<string, string>>,
): Promise<void> {
  if (rows.length === 0) return
  const names = Object.keys(rows[0]!)
  const columnTypes = await types()
  const arrayTypes = names.map((name) => columnTypes.get(name))
  const conflict = onConflict(names, target.keyNames)
  const columns = names.map(quote).join(', ')
  if (arrayTypes.every((type) => type !== undefined && !type.endsWith(']'))) {
    const params = names.map((name, index) => columnValues(rows, name, arrayTypes[index]!))
    const arrays = arrayTypes.map((type, index) => `$${index + 1}::${type}[]`).join(', ')
    await client.query(`insert into ${target.table} (${columns}) select * from unnest(${arrays}) ${conflict}`, params)
    return
  }
  const perStatement = Math.max(1, Math.floor(MAX_PARAMETERS / names.length))
  for (let start = 0; start < rows.length; start += perStatement) {
    const params: unknown[] = []
    const values = rows.slice(start, start + perStatement).map(
      (row) =>
        `(${names
          .map((name) => {
            params.push(row[name])
            return `$${params.length}`
          })
          .join(', ')})`,
    )
    await client.query(`insert into ${target.table} (${columns}) values ${values.join(', ')} ${conflict}`, params)
  }
}

/** The column types of `table` (`format_type`, as a cast takes them), read once per `pgRows`. */
export function columnTypesOf(client: PgClient, table: string): () => Promise<Map<string, string>> {
  let types: Promise<Map<string, string>> | undefined
  return () => {
    types ??= client
      .query<{ name: string; type: string }>(
        `select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
         where attrelid = $1::regclass and attnum > 0 and not attisdropped`,
        [table],
      )
      .then(({ rows }) => new Map(rows.map((row) => [row.name, row.type])))
    // a failed read (a table not there yet) is tried again by the next write
    types.catch(() => {
      types = undefined
    })
    return types
  }
}

/** One column's values as an array parameter; json values as their text, since node-postgres would turn a JSON array into a Postgres array. */
function columnValues(rows: readonly Record<string, unknown>[], name: string, type: string): unknown[] {
  if (type !== 'json' && type !== 'jsonb') return rows.map((row) => row[name])
  return rows.map((row) => {
    const value = row[name]
    return value === null || value === undefined || typeof value === 'string' ? value : JSON.stringify(value)
  })
}

function onConflict(names: readonly string[], keyNames: readonly string[]): string {
  const updates = names
    .filter((name) => !keyNames.includes(name))
    .map((name) => `${quote(name)} = excluded.${quote(name)}`)
  return `on conflict (${keyNames.map(quote).join(', ')}) ${updates.length > 0 ? `do update set ${updates.join(', ')}` : 'do nothing'}`
}

export const quote = (identifier: string) => `"${identifier.replaceAll('"', '""')}"`
