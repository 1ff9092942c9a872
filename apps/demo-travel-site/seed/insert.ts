// Inserts many rows with one statement per 5,000: each column goes as one array parameter
// (`select * from unnest($1::text[], …)`), so a seed of 100,000 rows is 20 round trips.
import type { PgClient } from '@flux/pg'

const ROWS_PER_STATEMENT = 5_000

export async function insertRows<Row extends object>(
  client: PgClient,
  table: string,
  columns: Record<keyof Row & string, string>,
  rows: Row[],
  onBatch?: (inserted: number) => void,
): Promise<void> {
  const names = Object.keys(columns) as (keyof Row & string)[]
  const arrays = names.map((name, index) => `$${index + 1}::${columns[name]}[]`).join(', ')
  const text = `insert into ${table} (${names.join(', ')}) select * from unnest(${arrays})`
  for (let start = 0; start < rows.length; start += ROWS_PER_STATEMENT) {
    const chunk = rows.slice(start, start + ROWS_PER_STATEMENT)
    await client.query(
      text,
      names.map((name) => chunk.map((row) => row[name])),
    )
    onBatch?.(start + chunk.length)
  }
}
