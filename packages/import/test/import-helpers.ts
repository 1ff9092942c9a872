import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describeWithServer as describeServer } from '@flux/core/testing'
import pg from 'pg'
import { afterAll, afterEach, expect, it } from 'vitest'

// Tests run the built `flux` on a project inside this package (so its config resolves @flux/pg
// and @flux/core like an installed app's), each on a database of its own, dropped after.
const here = dirname(fileURLToPath(import.meta.url))
const FLUX_BIN = join(here, '../../../apps/cli/bin/flux.js')

/** The real histories of ../shared/corpora (beside the repository), read in place. */
export const CORPORA = join(here, '../../../../shared/corpora')

/** The tests that need a tool: `it`, `it.skip` or a failing test, as {@link toolFromScript} decides. */
export type TestWithTool = (name: string, body: () => Promise<void>, timeout?: number) => void

/**
 * The tool that `scripts/<script>` of this package installs (the path it prints) and the `it` for
 * the tests that run it. When the script cannot have it (exit 3, a message on stderr), the tests
 * are skipped with that message, but fail with it under CI (`CI` set, and not "false"), where a
 * broken install must not pass for skipped tests; unless `optional`: a tool that the script
 * builds only when asked (diesel), skipped under CI too.
 */
export function toolFromScript(
  script: string,
  tool: string,
  { optional = false }: { optional?: boolean } = {},
): { path: string | undefined; test: TestWithTool } {
  const result = spawnSync('bash', [join(here, '../scripts', script)], { encoding: 'utf8' })
  const path = result.status === 0 ? result.stdout.trim().split('\n').pop() : undefined
  if (path) return { path, test: it }
  const message = `${tool} could not be had (scripts/${script}): ${(result.stderr ?? '').trim().split('\n').pop()}`
  if (process.env.CI && process.env.CI !== 'false' && !optional) {
    return {
      path,
      test: (name) =>
        it(name, () => {
          throw new Error(message)
        }),
    }
  }
  console.warn(`skipping the ${tool} tests: ${message}`)
  return { path, test: it.skip }
}

/** A describe() for tests that need the PostgreSQL server: failing under CI without it, skipped elsewhere. */
export const describeWithServer = (name: string, fn: (url: string) => void) =>
  describeServer('FLUX_TEST_PG_URL', name, fn, 'start the test servers with `scripts/services start`')

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

let admin: pg.Pool | undefined
export function adminPool(url: string): pg.Pool {
  if (!admin) {
    admin = new pg.Pool({ connectionString: url, max: 2 })
    afterAll(async () => {
      await admin?.end()
      admin = undefined
    })
  }
  return admin
}

/** A new empty database on the server, dropped after the test; returns its URL. */
export async function freshDatabase(serverUrl: string): Promise<string> {
  const name = `flux_import_${randomBytes(5).toString('hex')}`
  await adminPool(serverUrl).query(`create database ${name}`)
  cleanups.push(() => adminPool(serverUrl).query(`drop database if exists ${name} with (force)`))
  const url = new URL(serverUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** Runs `body` on a connection to the database at `url`. */
export async function withDatabase<T>(url: string, body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await body(client)
  } finally {
    await client.end()
  }
}

/** A folder inside this package (removed after the test). */
export async function tempDir(prefix: string): Promise<string> {
  await mkdir(join(here, '../.flux-tmp'), { recursive: true })
  const dir = await mkdtemp(join(here, `../.flux-tmp/${prefix}-`))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A flux project with one pg store `catalog` at $CATALOG_URL, and no migrations yet. */
export async function fluxProject(): Promise<string> {
  const dir = await tempDir('project')
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { catalog: pgStore({ url: process.env.CATALOG_URL }) }, migrations: './migrations' })
`,
  )
  return dir
}

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** `flux <args>` in `dir`, the store at `url`. */
export function flux(dir: string, url: string, ...args: string[]): Run {
  const result = spawnSync(process.execPath, [FLUX_BIN, ...args], {
    cwd: dir,
    env: { ...process.env, CATALOG_URL: url, NO_COLOR: '1' },
    encoding: 'utf8',
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

/** `flux status --json`: each migration's status by id. */
export function statuses(dir: string, url: string): Record<string, string> {
  const result = flux(dir, url, 'status', '--json')
  expect(result.code, result.stderr).toBe(0)
  const rows = JSON.parse(result.stdout).migrations as { id: string; status: string }[]
  return Object.fromEntries(rows.map((row) => [row.id, row.status]))
}

/** Applies SQL files in order with psql (stopping at the first error), as a person would by hand. */
export function psqlFiles(url: string, files: readonly string[]): void {
  for (const file of files) {
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', file], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  }
}

/**
 * `pg_dump --schema-only` of the database, without the ledgers (flux's and the tool's, named in
 * `ledgers`, or the tool's whole schema in `ledgerSchemas`) and without what differs between two dumps of one schema (`\restrict` keys, comments).
 */
export function schemaDump(
  url: string,
  ledgers: readonly string[] = [],
  ledgerSchemas: readonly string[] = [],
): string {
  const excluded = [
    ...['public.flux_ledger', 'public.flux_ledger_lock', ...ledgers].flatMap((table) => ['--exclude-table', table]),
    ...ledgerSchemas.flatMap((schema) => ['--exclude-schema', schema]),
  ]
  const text = execFileSync('pg_dump', ['--schema-only', '--no-owner', '--no-privileges', ...excluded, url], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  return text
    .split('\n')
    .filter((line) => !/^\\(un)?restrict /.test(line) && !line.startsWith('--'))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
}

/** The flux ledger's rows of the database. */
export async function fluxLedger(url: string): Promise<{ id: string; run_id: string }[]> {
  return withDatabase(url, async (client) => {
    const { rows } = await client.query('select id, run_id from flux_ledger order by id')
    return rows
  })
}

/**
 * What a take-over of a history half applied by its tool must show: the first `half` of `ids`
 * applied and the rest pending; the same import again imports nothing; then `flux up` applies the
 * rest, all in one new run (the imported ones were recorded together, by the import).
 */
export async function expectTakenOver(
  project: string,
  url: string,
  importArgs: readonly string[],
  ids: readonly string[],
  half: number,
): Promise<void> {
  const status = statuses(project, url)
  expect(ids.map((id) => status[id])).toEqual([
    ...Array(half).fill('applied'),
    ...Array(ids.length - half).fill('pending'),
  ])

  const again = flux(project, url, 'import', ...importArgs)
  expect(again.code, again.stderr).toBe(0)
  expect(again.stdout).toContain('nothing to import')

  const up = flux(project, url, 'up')
  expect(up.code, up.stderr).toBe(0)
  const runOf = new Map((await fluxLedger(url)).map((row) => [row.id, row.run_id]))
  expect(runOf.size).toBe(ids.length)
  expect(new Set(ids.slice(0, half).map((id) => runOf.get(id))).size).toBe(1)
  expect(new Set(ids.slice(half).map((id) => runOf.get(id))).size).toBe(1)
  expect(runOf.get(ids[half]!)).not.toBe(runOf.get(ids[0]!))
}

/** Whether the database has that table. */
export async function hasTable(url: string, table: string): Promise<boolean> {
  return withDatabase(url, async (client) => {
    const { rows } = await client.query('select to_regclass($1)::text as found', [table])
    return rows[0].found !== null
  })
}

/** The files of a folder, or [] when it does not exist. */
export async function filesOf(dir: string): Promise<string[]> {
  return existsSync(dir) ? (await readdir(dir)).sort() : []
}

/** The up and down sections of a flux `.sql` file, as written. */
export async function sectionsOf(file: string): Promise<{ up: string; down: string | undefined }> {
  const text = await readFile(file, 'utf8')
  const up = text.indexOf('\n-- flux:up\n') + '\n-- flux:up\n'.length
  const down = text.indexOf('\n-- flux:down\n', up - 1)
  return down === -1
    ? { up: text.slice(up), down: undefined }
    : { up: text.slice(up, down + 1), down: text.slice(down + '\n-- flux:down\n'.length) }
}

/** `text` as the import writes it in a section: ended by a line break. */
export function asSection(text: string): string {
  return text === '' || text.endsWith('\n') ? text : `${text}\n`
}
