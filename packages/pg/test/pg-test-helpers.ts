import { randomBytes } from 'node:crypto'
import { type ConformanceStore, describeWithServer as describeServer } from '@flux/core/testing'
import pg from 'pg'
import { afterAll } from 'vitest'

/** The test server's password, which must never show up anywhere. */
export const PASSWORD = 'flux-test-secret'

export const SERVER_URL = process.env.FLUX_TEST_PG_URL

const SERVICES_HINT = 'start the test servers with `scripts/services start`, then run `eval "$(scripts/services env)"`'

/** A describe() for tests that need the PostgreSQL server (FLUX_TEST_PG_URL): failing under CI without it, skipped elsewhere. */
export const describeWithServer = (name: string, fn: (url: string) => void) =>
  describeServer('FLUX_TEST_PG_URL', name, fn, SERVICES_HINT)

/** A URL that refuses connections: the server's own, on a closed port, with the password. */
export const UNREACHABLE_URL = `postgres://flux:${PASSWORD}@127.0.0.1:1/flux_test`

/** A pg Pool, a PGlite instance or a flux PgClient. */
export interface SqlRunner {
  query(text: string, params?: unknown[]): Promise<{ rows: unknown[] }>
}

let admin: pg.Pool | undefined

/** A pool for the tests' own queries (creating, inspecting and dropping schemas). */
export function adminPool(url: string): pg.Pool {
  if (!admin) {
    admin = new pg.Pool({ connectionString: url, max: 4 })
    afterAll(async () => {
      await admin?.end()
      admin = undefined
    })
  }
  return admin
}

/** A random schema name, so that tests never share tables or advisory locks. */
export function randomSchema(): string {
  return `flux_test_${randomBytes(6).toString('hex')}`
}

/** Names of the schema (if it exists) and of each table in it. */
export async function schemaContents(db: SqlRunner, schema: string): Promise<string[]> {
  const { rows } = await db.query(
    `select 'schema ' || nspname as name from pg_namespace where nspname = $1
     union all select 'table ' || tablename from pg_tables where schemaname = $1 order by 1`,
    [schema],
  )
  return rows.map((row) => (row as { name: string }).name)
}

/** A fresh schema on the server for one conformance test (created on first write, dropped after). */
export function serverStore(url: string, create: (schema: string) => ConformanceStore['create']): ConformanceStore {
  const schema = randomSchema()
  const pool = adminPool(url)
  return {
    create: create(schema),
    cleanup: async () => {
      await pool.query(`drop schema if exists "${schema}" cascade`)
    },
    contents: () => schemaContents(pool, schema),
  }
}
