import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect } from 'vitest'
import {
  asSection,
  CORPORA,
  describeWithServer,
  filesOf,
  flux,
  fluxLedger,
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

// golang-migrate itself (built from the Go module proxy by scripts/golang-migrate.sh) applies
// the first part of Tracetest's real history; then `flux import` and `flux up` take over.
// Skipped when it cannot be built, but failing under CI, where a broken install must show.
const { path: MIGRATE, test: testWithTool } = toolFromScript('golang-migrate.sh', 'golang-migrate')

const TRACETEST = join(CORPORA, 'tracetest-golang-migrate')

/** `migrate <args>` on the database (the tool's own URL form). */
function migrate(url: string, folder: string, ...args: string[]): { code: number | null; output: string } {
  const database = new URL(url)
  database.searchParams.set('sslmode', 'disable')
  const result = spawnSync(MIGRATE!, ['-path', folder, '-database', database.toString(), ...args], { encoding: 'utf8' })
  return { code: result.status, output: result.stdout + result.stderr }
}

/** The corpus's up files in version order, as golang-migrate sees them. */
async function upFiles(folder: string): Promise<string[]> {
  return (await filesOf(folder))
    .filter((file) => /^\d+_.*\.up\.sql$/.test(file))
    .sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10))
}

describeWithServer('flux import golang-migrate', (server) => {
  testWithTool(
    'takes over a real history half applied by golang-migrate: same schema, nothing run twice, downs work',
    async () => {
      expect(existsSync(TRACETEST), `the corpus is missing at ${TRACETEST}`).toBe(true)
      const url = await freshDatabase(server)
      const ups = await upFiles(TRACETEST)
      expect(ups).toHaveLength(39)
      const applied = migrate(url, TRACETEST, 'up', '20')
      expect(applied.code, applied.output).toBe(0)
      const project = await fluxProject()
      const folder = join(project, 'migrations')

      const dryRun = flux(
        project,
        url,
        'import',
        'golang-migrate',
        '--store',
        'catalog',
        '--from',
        TRACETEST,
        '--dry-run',
      )
      expect(dryRun.code, dryRun.stderr).toBe(0)
      expect(dryRun.stdout).toContain('write    migrations/0000_create_test_table.sql')
      expect(dryRun.stdout).toContain('record app/0019_')
      expect(dryRun.stdout).not.toContain('record app/0020_')
      expect(dryRun.stdout).toContain('would write 39 of 39 migrations from ')
      expect(dryRun.stdout).toContain(
        "golang-migrate's schema_migrations has 20 applied; would record 20 in flux's ledger",
      )
      expect(dryRun.stdout).toContain('skipped  ')
      expect(dryRun.stdout).toContain('36_migrate_users_to_opentelemetry.sql')
      expect(await filesOf(folder)).toEqual([])
      expect(await hasTable(url, 'flux_ledger')).toBe(false)

      const imported = flux(project, url, 'import', 'golang-migrate', '--store', 'catalog', '--from', TRACETEST)
      expect(imported.code, imported.stderr).toBe(0)
      expect(imported.stdout).toContain('wrote 39 of 39 migrations')
      const written = (await filesOf(folder)).filter((file) => file.endsWith('.sql'))
      expect(written).toHaveLength(39)
      expect(await filesOf(folder)).toContain('flux.sum')
      // the SQL byte for byte, up and down
      for (const file of written) {
        const version = Number.parseInt(file, 10)
        const up = ups.find((candidate) => Number.parseInt(candidate, 10) === version)!
        const sections = await sectionsOf(join(folder, file))
        expect(sections.up, file).toBe(asSection(await readFile(join(TRACETEST, up), 'utf8')))
        const downFile = join(TRACETEST, up.replace(/\.up\.sql$/, '.down.sql'))
        expect(sections.down, file).toBe(
          existsSync(downFile)
            ? asSection(await readFile(downFile, 'utf8'))
            : `-- ${up} has no .down.sql: \`migrate down\` reverts it by doing nothing, and so does flux\n`,
        )
      }
      const status = statuses(project, url)
      const ids = Object.keys(status).sort()
      expect(ids.filter((id) => status[id] === 'applied')).toEqual(ids.slice(0, 20))
      expect(ids.filter((id) => status[id] === 'pending')).toEqual(ids.slice(20))

      const again = flux(project, url, 'import', 'golang-migrate', '--store', 'catalog', '--from', TRACETEST)
      expect(again.code, again.stderr).toBe(0)
      expect(again.stdout).toContain('nothing to import')

      const up = flux(project, url, 'up')
      expect(up.code, up.stderr).toBe(0)
      const verified = flux(project, url, 'verify')
      expect(verified.code, verified.stdout + verified.stderr).toBe(0)
      // each migration ran once: the first 20 only recorded by the import's run, the others by `flux up`'s
      const ledger = await fluxLedger(url)
      expect(ledger.map((row) => row.id)).toEqual(ids)
      expect(new Set(ledger.slice(0, 20).map((row) => row.run_id)).size).toBe(1)
      expect(new Set(ledger.slice(20).map((row) => row.run_id)).size).toBe(1)
      expect(ledger[20]!.run_id).not.toBe(ledger[0]!.run_id)
      // golang-migrate's own ledger is left as it was
      expect(
        await withDatabase(url, async (client) => (await client.query('select * from schema_migrations')).rows),
      ).toEqual([{ version: '19', dirty: false }])

      const byHand = await freshDatabase(server)
      psqlFiles(
        byHand,
        ups.map((file) => join(TRACETEST, file)),
      )
      const expected = schemaDump(byHand)
      expect(expected).toContain('CREATE TABLE public.test_runs')
      expect(schemaDump(url, ['public.schema_migrations'])).toBe(expected)

      const down = flux(project, url, 'down', '--steps', '3', '--yes')
      expect(down.code, down.stderr + down.stdout).toBe(0)
      expect(Object.values(statuses(project, url)).filter((value) => value === 'pending')).toHaveLength(3)
      const reapplied = flux(project, url, 'up')
      expect(reapplied.code, reapplied.stderr).toBe(0)
      expect(schemaDump(url, ['public.schema_migrations'])).toBe(expected)
    },
  )

  testWithTool('stops on a dirty version and on a version without a file, writing nothing', async () => {
    const url = await freshDatabase(server)
    const history = await tempDir('golang-migrate')
    await writeFile(join(history, '1_hotels.up.sql'), 'create table hotel (id int primary key, name text);\n')
    await writeFile(join(history, '1_hotels.down.sql'), 'drop table hotel;\n')
    await writeFile(
      join(history, '2_broken.up.sql'),
      'alter table hotel add column stars int;\nselect nonsense from hotel;\n',
    )
    await writeFile(join(history, '2_broken.down.sql'), 'alter table hotel drop column stars;\n')
    const failed = migrate(url, history, 'up')
    expect(failed.code).not.toBe(0)
    expect(
      await withDatabase(
        url,
        async (client) => (await client.query('select version, dirty from schema_migrations')).rows,
      ),
    ).toEqual([{ version: '2', dirty: true }])
    const project = await fluxProject()

    const dirty = flux(project, url, 'import', 'golang-migrate', '--store', 'catalog', '--from', history)
    expect(dirty.code).toBe(3)
    expect(dirty.stderr).toContain(
      "golang-migrate's schema_migrations says version 2 (2_broken.up.sql) is dirty (it failed midway): nothing was imported",
    )
    expect(dirty.stderr).toContain('migrate force 2')
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(url, 'flux_ledger')).toBe(false)

    expect(migrate(url, history, 'force', '7').code).toBe(0)
    const missing = flux(project, url, 'import', 'golang-migrate', '--store', 'catalog', '--from', history)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "golang-migrate's schema_migrations records version 7 as applied, but the folder has no file for it",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(url, 'flux_ledger')).toBe(false)
  })

  testWithTool(
    'writes a migration that cannot run in a transaction with `-- flux:transaction off`, and flux runs it',
    async () => {
      const url = await freshDatabase(server)
      const history = await tempDir('golang-migrate')
      await writeFile(
        join(history, '20260101000000_hotels.up.sql'),
        'create table hotel (id int primary key, name text);',
      )
      await writeFile(join(history, '20260101000000_hotels.down.sql'), 'drop table hotel;')
      await writeFile(
        join(history, '20260102000000_hotel_name.up.sql'),
        'create index concurrently hotel_name on hotel (name);\n',
      )
      await writeFile(join(history, '20260102000000_hotel_name.down.sql'), 'drop index concurrently hotel_name;\n')
      expect(migrate(url, history, 'up', '1').code).toBe(0)
      const project = await fluxProject()
      const imported = flux(project, url, 'import', 'golang-migrate', '--store', 'catalog', '--from', history)
      expect(imported.code, imported.stderr).toBe(0)
      const text = await readFile(join(project, 'migrations', '20260102000000_hotel_name.sql'), 'utf8')
      expect(text).toBe(`-- flux:store catalog
-- flux:parents 20260101000000_hotels
-- flux:transaction off (CREATE INDEX CONCURRENTLY cannot run in a transaction)
-- imported by \`flux import golang-migrate\` from 20260102000000_hotel_name.up.sql, 20260102000000_hotel_name.down.sql
-- flux:up
create index concurrently hotel_name on hotel (name);
-- flux:down
drop index concurrently hotel_name;
`)
      // a file without a final line break gets one, so that `-- flux:down` starts its own line
      expect(await sectionsOf(join(project, 'migrations', '20260101000000_hotels.sql'))).toEqual({
        up: 'create table hotel (id int primary key, name text);\n',
        down: 'drop table hotel;\n',
      })
      const up = flux(project, url, 'up')
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout + up.stderr).toContain('20260102000000_hotel_name')
      const indexes = await withDatabase(
        url,
        async (client) =>
          (await client.query("select indexname from pg_indexes where tablename = 'hotel' order by 1")).rows,
      )
      expect(indexes).toEqual([{ indexname: 'hotel_name' }, { indexname: 'hotel_pkey' }])
    },
  )
})
