import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
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
  toolFromScript,
  withDatabase,
} from './import-helpers.ts'

// diesel's own CLI (diesel_cli 2.3.14, PostgreSQL only, built from crates.io into a cache by
// scripts/diesel.sh) applies the first half of Lemmy's real history with `diesel migration run`,
// into the __diesel_schema_migrations it creates; then `flux import diesel` and `flux up` take
// over. Building diesel_cli takes minutes, so the script builds it only when
// FLUX_IMPORT_BUILD_DIESEL=1 asks for it: without it and without the built binary, these tests
// are skipped with that message, under CI too (where the other tools' tests fail instead).
const LEMMY = join(CORPORA, 'lemmy-diesel')
const DIESEL = toolFromScript('diesel.sh', 'diesel', { optional: true })
const testWithDiesel = DIESEL.test

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

/**
 * `diesel migration run` of the migrations folder `dir` on the database at `url`: every migration
 * of the folder that its ledger does not have. The URL goes to diesel in DATABASE_URL, so that no
 * password is on a command line.
 */
function dieselRun(url: string, dir: string): void {
  const result = spawnSync(DIESEL.path!, ['migration', 'run', '--migration-dir', dir], {
    cwd: dir,
    env: { ...process.env, DATABASE_URL: url },
    encoding: 'utf8',
  })
  expect(result.status, result.stdout + result.stderr).toBe(0)
}

/** The versions in __diesel_schema_migrations. */
async function dieselVersions(url: string): Promise<string[]> {
  return withDatabase(url, async (client) =>
    (await client.query('select version from __diesel_schema_migrations order by version')).rows.map(
      (row) => row.version,
    ),
  )
}

describeWithServer('flux import diesel', (server) => {
  testWithDiesel(
    'takes over a real history half applied by diesel: same schema, nothing run twice, downs work',
    async () => {
      expect(existsSync(LEMMY), `the corpus is missing at ${LEMMY}`).toBe(true)
      const all = await migrationFolders(LEMMY)
      expect(all).toHaveLength(342)
      const url = await freshDatabase(server)
      const serverVersion = await withDatabase(url, async (client) =>
        Number((await client.query('show server_version_num')).rows[0].server_version_num),
      )
      // on an older server the history is cut before the first migration it cannot run
      const folders = serverVersion >= 160000 ? all : all.slice(0, all.indexOf(NEEDS_PG16))
      // the team's folder as it was when diesel ran it: its first half; then the rest
      const from = await tempDir('lemmy')
      const half = Math.floor(folders.length / 2)
      const link = async (names: readonly string[]) => {
        for (const name of names) {
          await mkdir(join(from, name))
          for (const file of ['up.sql', 'down.sql']) await symlink(join(LEMMY, name, file), join(from, name, file))
        }
      }
      await link(folders.slice(0, half))
      dieselRun(url, from)
      expect(await dieselVersions(url)).toEqual(folders.slice(0, half).map(versionOf).sort())
      await link(folders.slice(half))
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
    },
  )

  testWithDiesel(
    "keeps metadata.toml's run_in_transaction = false, and stops on a version without a folder",
    async () => {
      const history = await tempDir('diesel')
      const write = async (folder: string, files: Record<string, string>) => {
        await mkdir(join(history, folder))
        for (const [file, text] of Object.entries(files)) await writeFile(join(history, folder, file), text)
      }
      await write('2026-01-01-000000_hotels', {
        'up.sql': 'create table hotel (id int primary key, name text);\n',
        'down.sql': 'drop table hotel;\n',
      })
      const url = await freshDatabase(server)
      dieselRun(url, history)
      await write('2026-01-02-000000_hotel_name', {
        'up.sql': 'create index hotel_name on hotel (name);\n',
        'down.sql': 'drop index hotel_name;\n',
        'metadata.toml': 'run_in_transaction = false\n',
      })
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

      // a migration that diesel ran, whose folder is then gone
      const other = await freshDatabase(server)
      await write('2025-12-31-000000_gone', { 'up.sql': 'select 1;\n', 'down.sql': 'select 1;\n' })
      dieselRun(other, history)
      expect(await dieselVersions(other)).toEqual(['20251231000000', '20260101000000', '20260102000000'])
      await rm(join(history, '2025-12-31-000000_gone'), { recursive: true })
      const elsewhere = await fluxProject()
      const missing = flux(elsewhere, other, 'import', 'diesel', '--store', 'catalog', '--from', history)
      expect(missing.code).toBe(3)
      expect(missing.stderr).toContain(
        "diesel's __diesel_schema_migrations records version 20251231000000 as applied, but the migrations folder has no file for it",
      )
      expect(await filesOf(join(elsewhere, 'migrations'))).toEqual([])
      expect(await hasTable(other, 'flux_ledger')).toBe(false)
    },
  )
})
