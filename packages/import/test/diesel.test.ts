import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type pg from 'pg'
import { expect, it } from 'vitest'
import {
  asSection,
  CORPORA,
  describeWithServer,
  expectTakenOver,
  filesOf,
  flux,
  fluxProject,
  freshDatabase,
  hasTable,
  psqlFiles,
  schemaDump,
  sectionsOf,
  statuses,
  tempDir,
  withDatabase,
} from './import-helpers.ts'

// diesel's CLI is a Rust program built against libpq, minutes of compiling on this machine, so
// the first half of Lemmy's real history is applied here by diesel's documented rules: its
// ledger created as `diesel migration run` creates it, each migration's up.sql sent as one batch
// in a transaction (unless its metadata.toml says `run_in_transaction = false`) together with its
// row, in version order (the folder name up to its first `_`, dashes removed).
const LEMMY = join(CORPORA, 'lemmy-diesel')

const DIESEL_LEDGER = `CREATE TABLE IF NOT EXISTS __diesel_schema_migrations (
       version VARCHAR(50) PRIMARY KEY NOT NULL,
       run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
)`

/** The first of Lemmy's migrations that PostgreSQL 15 cannot run (a subquery in FROM without an alias, new in 16). */
const NEEDS_PG16 = '2025-08-01-000016_smoosh-tables-together'

const versionOf = (folder: string) => folder.split('_')[0]!.replaceAll('-', '')

async function migrationFolders(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true })
  return entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort((a, b) => (versionOf(a) < versionOf(b) ? -1 : versionOf(a) > versionOf(b) ? 1 : 0))
}

/** `diesel migration run` for these folders. */
async function dieselRun(client: pg.Client, dir: string, folders: readonly string[]): Promise<void> {
  await client.query(DIESEL_LEDGER)
  for (const folder of folders) {
    const up = await readFile(join(dir, folder, 'up.sql'), 'utf8')
    const metadata = existsSync(join(dir, folder, 'metadata.toml'))
      ? await readFile(join(dir, folder, 'metadata.toml'), 'utf8')
      : undefined
    const transaction = metadata === undefined || /run_in_transaction\s*=\s*true/.test(metadata)
    if (transaction) await client.query('begin')
    await client.query(up)
    await client.query('insert into __diesel_schema_migrations (version) values ($1)', [versionOf(folder)])
    if (transaction) await client.query('commit')
  }
}

describeWithServer('flux import diesel', (server) => {
  it('takes over a real history half applied by diesel: same schema, nothing run twice, downs work', async () => {
    expect(existsSync(LEMMY), `the corpus is missing at ${LEMMY}`).toBe(true)
    const all = await migrationFolders(LEMMY)
    expect(all).toHaveLength(342)
    const url = await freshDatabase(server)
    const serverVersion = await withDatabase(url, async (client) =>
      Number((await client.query('show server_version_num')).rows[0].server_version_num),
    )
    // on an older server the history is cut before the first migration it cannot run
    const folders = serverVersion >= 160000 ? all : all.slice(0, all.indexOf(NEEDS_PG16))
    const from = await tempDir('lemmy')
    for (const name of folders) {
      await mkdir(join(from, name))
      for (const file of ['up.sql', 'down.sql']) await symlink(join(LEMMY, name, file), join(from, name, file))
    }
    const half = Math.floor(folders.length / 2)
    await withDatabase(url, (client) => dieselRun(client, from, folders.slice(0, half)))
    const project = await fluxProject()
    const folder = join(project, 'migrations')

    const imported = flux(project, url, 'import', 'diesel', '--store', 'catalog', '--from', from)
    expect(imported.code, imported.stderr).toBe(0)
    expect(imported.stdout).toContain(`diesel's __diesel_schema_migrations has ${half} applied; recorded ${half}`)
    expect((await filesOf(folder)).filter((file) => file.endsWith('.sql'))).toEqual(
      folders.map((name) => `${name}.sql`).sort(),
    )
    for (const name of folders) {
      const sections = await sectionsOf(join(folder, `${name}.sql`))
      expect(sections.up, name).toBe(asSection(await readFile(join(LEMMY, name, 'up.sql'), 'utf8')))
      expect(sections.down, name).toBe(asSection(await readFile(join(LEMMY, name, 'down.sql'), 'utf8')))
    }
    const ids = folders.map((name) => `app/${name}`)
    await expectTakenOver(project, url, ['diesel', '--store', 'catalog', '--from', from], ids, half)
    expect(
      await withDatabase(
        url,
        async (client) => (await client.query(`select count(*)::int as n from __diesel_schema_migrations`)).rows[0].n,
      ),
    ).toBe(half)

    const byHand = await freshDatabase(server)
    psqlFiles(
      byHand,
      folders.map((name) => join(LEMMY, name, 'up.sql')),
    )
    const expected = schemaDump(byHand)
    expect(expected).toContain('CREATE TABLE public.')
    expect(schemaDump(url, ['public.__diesel_schema_migrations'])).toBe(expected)

    const down = flux(project, url, 'down', '--steps', '3', '--yes')
    expect(down.code, down.stderr + down.stdout).toBe(0)
    expect(ids.slice(-3).map((id) => statuses(project, url)[id])).toEqual(['pending', 'pending', 'pending'])
    const reapplied = flux(project, url, 'up')
    expect(reapplied.code, reapplied.stderr).toBe(0)
    expect(schemaDump(url, ['public.__diesel_schema_migrations'])).toBe(expected)
  })

  it("keeps metadata.toml's run_in_transaction = false, and stops on a version without a folder", async () => {
    const history = await tempDir('diesel')
    const write = async (folder: string, files: Record<string, string>) => {
      await mkdir(join(history, folder))
      for (const [file, text] of Object.entries(files)) await writeFile(join(history, folder, file), text)
    }
    await write('2026-01-01-000000_hotels', {
      'up.sql': 'create table hotel (id int primary key, name text);\n',
      'down.sql': 'drop table hotel;\n',
    })
    await write('2026-01-02-000000_hotel_name', {
      'up.sql': 'create index hotel_name on hotel (name);\n',
      'down.sql': 'drop index hotel_name;\n',
      'metadata.toml': 'run_in_transaction = false\n',
    })
    const url = await freshDatabase(server)
    await withDatabase(url, (client) => dieselRun(client, history, ['2026-01-01-000000_hotels']))
    const project = await fluxProject()
    const imported = flux(project, url, 'import', 'diesel', '--store', 'catalog', '--from', history)
    expect(imported.code, imported.stderr).toBe(0)
    expect(await readFile(join(project, 'migrations', '2026-01-02-000000_hotel_name.sql'), 'utf8')).toContain(
      '-- flux:transaction off (metadata.toml: run_in_transaction = false)\n',
    )
    expect(statuses(project, url)).toEqual({
      'app/2026-01-01-000000_hotels': 'applied',
      'app/2026-01-02-000000_hotel_name': 'pending',
    })

    const other = await freshDatabase(server)
    await withDatabase(other, async (client) => {
      await dieselRun(client, history, ['2026-01-01-000000_hotels'])
      await client.query(`insert into __diesel_schema_migrations (version) values ('20251231000000')`)
    })
    const elsewhere = await fluxProject()
    const missing = flux(elsewhere, other, 'import', 'diesel', '--store', 'catalog', '--from', history)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "diesel's __diesel_schema_migrations records version 20251231000000 as applied, but the migrations folder has no file for it",
    )
    expect(await filesOf(join(elsewhere, 'migrations'))).toEqual([])
    expect(await hasTable(other, 'flux_ledger')).toBe(false)
  })
})
