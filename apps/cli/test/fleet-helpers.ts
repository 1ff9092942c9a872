// What the fleet tests share: a PostgreSQL client through @flux/pg's driver, fleet projects
// whose members are schemas named after the project, and their cleanup.

import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll } from 'vitest'
import { type PgClient, pg } from './drivers.ts'
import { emptyProject } from './helpers.ts'

export type { PgClient } from './drivers.ts'

const prefixes: string[] = []

afterAll(async () => {
  if (!process.env.FLUX_TEST_PG_URL || prefixes.length === 0) return
  const client = await connect()
  try {
    for (const prefix of prefixes.splice(0)) await dropSchemas(client, prefix)
  } finally {
    await client.end()
  }
})

export async function connect(): Promise<PgClient> {
  const client = new pg.Client({ connectionString: process.env.FLUX_TEST_PG_URL })
  await client.connect()
  return client
}

/** Drops every schema whose name starts with `prefix`. */
export async function dropSchemas(client: PgClient, prefix: string): Promise<void> {
  const { rows } = await client.query(`select nspname from pg_namespace where nspname like $1`, [`${prefix}%`])
  for (const row of rows) await client.query(`drop schema if exists "${row.nspname}" cascade`)
}

/** A fresh name for one test's schemas (dropped after the file). */
export function uniquePrefix(label: string): string {
  const prefix = `${label}_${randomBytes(4).toString('hex')}`
  prefixes.push(prefix)
  return prefix
}

/**
 * A project with a pg store `catalog` (schema `<prefix>_catalog`) and a fleet `tenants` whose
 * members come from the TENANTS environment variable, each the schema `<prefix>_t_<member>`
 * (unqualified names resolve there); with `board`, the fleet keeps its board in `catalog`.
 */
export async function fleetProject(
  prefix: string,
  migrations: Record<string, string>,
  options: { lease?: string; board?: boolean } = {},
): Promise<string> {
  const dir = await emptyProject()
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig, fleet } from '@flux/core'
import { pgStore } from '@flux/pg'
const url = process.env.FLUX_TEST_PG_URL
export default defineConfig({
  stores: {
    catalog: pgStore({ url, schema: '${prefix}_catalog' }),
    tenants: fleet({
      members: () => (process.env.TENANTS ?? '').split(',').filter(Boolean),
      store: (tenant) => pgStore({ url, schema: \`${prefix}_t_\${tenant}\`, searchPath: \`${prefix}_t_\${tenant}\` }),${options.board ? "\n      board: 'catalog'," : ''}
    }),
  },
  migrations: './migrations',${options.lease ? `\n  lease: ${options.lease},` : ''}
})
`,
  )
  await mkdir(join(dir, 'migrations'))
  for (const [name, source] of Object.entries(migrations)) await writeFile(join(dir, 'migrations', name), source)
  return dir
}

/** An SQL migration of the fleet `tenants`. */
export function tenantSql(up: string, header = ''): string {
  return `-- flux:store tenants\n${header}-- flux:up\n${up}\n`
}

/** The applied ids in a member's ledger, with when each was applied. */
export async function ledgerOf(client: PgClient, schema: string): Promise<string[]> {
  const { rows } = await client.query(
    `select id, status, applied_at from "${schema}".flux_ledger where status = 'applied' order by seq`,
  )
  return rows.map((row) => `${row.id} ${(row.applied_at as Date).toISOString()}`)
}

/** The tables in a schema, sorted. */
export async function tablesOf(client: PgClient, schema: string): Promise<string[]> {
  const { rows } = await client.query(`select tablename from pg_tables where schemaname = $1 order by 1`, [schema])
  return rows.map((row) => row.tablename as string)
}
