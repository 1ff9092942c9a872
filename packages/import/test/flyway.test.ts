import { spawnSync } from 'node:child_process'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect } from 'vitest'
import { flywayChecksum } from '../src/formats/flyway.ts'
import {
  asSection,
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

// Flyway itself (its Maven plugin 13.12.2 with its PostgreSQL module, test/fixtures/flyway/pom.xml,
// fetched from Maven Central by scripts/flyway.sh when missing) applies the first part of a
// history written to its documented layout, into the flyway_schema_history it creates; then
// `flux import flyway` and `flux up` take over.
const { path: MVN, test: testWithFlyway } = toolFromScript('flyway.sh', 'Flyway')
const POM = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'flyway', 'pom.xml')

/**
 * `mvn flyway:migrate` of the folder `dir` on the database at `url`, with more Flyway settings
 * (`{ target: '2' }` for `-Dflyway.target=2`). The connection goes to Flyway in its environment
 * variables (FLYWAY_URL, FLYWAY_USER, FLYWAY_PASSWORD), so that no password is on a command line.
 */
function flywayMigrate(
  url: string,
  dir: string,
  settings: Record<string, string> = {},
): { code: number | null; output: string } {
  const database = new URL(url)
  const result = spawnSync(
    MVN!,
    [
      '-q',
      '-B',
      '-Dstyle.color=never',
      '-f',
      POM,
      'flyway:migrate',
      `-Dflyway.locations=filesystem:${dir}`,
      ...Object.entries(settings).map(([key, value]) => `-Dflyway.${key}=${value}`),
    ],
    {
      encoding: 'utf8',
      env: {
        ...process.env,
        FLYWAY_URL: `jdbc:postgresql://${database.host}${database.pathname}`,
        FLYWAY_USER: decodeURIComponent(database.username),
        FLYWAY_PASSWORD: decodeURIComponent(database.password),
      },
    },
  )
  return { code: result.status, output: result.stdout + result.stderr }
}

/** What Flyway recorded in flyway_schema_history, by installed_rank. */
async function flywayRows(
  url: string,
): Promise<{ script: string; version: string | null; checksum: number; success: boolean }[]> {
  return withDatabase(url, async (client) => {
    const { rows } = await client.query(
      'select script, version, checksum, success from flyway_schema_history order by installed_rank',
    )
    return rows
  })
}

/** A Flyway history: file name → SQL. Versions 1, 1.1, 2, 3 and 10 (10 after 3: numbers, not text). */
const HISTORY: Record<string, string> = {
  'V1__create_hotels.sql': 'create table hotel (id int primary key, name text not null);\n',
  'U1__create_hotels.sql': 'drop table hotel;\n',
  'V1.1__add_stars.sql': 'alter table hotel add column stars int;\n',
  'U1.1__add_stars.sql': 'alter table hotel drop column stars;\n',
  'V2__rooms.sql':
    'create table room (\r\n  hotel_id int not null references hotel (id),\r\n  number text not null,\r\n  primary key (hotel_id, number)\r\n);\r\n',
  'U2__rooms.sql': 'drop table room;\n',
  'V3__room_beds.sql': 'alter table room add column beds int not null default 2;',
  'U3__room_beds.sql': 'alter table room drop column beds;',
  'V10__hotel_name_index.sql': 'create index concurrently hotel_name on hotel (name);\n',
  'U10__hotel_name_index.sql': 'drop index concurrently hotel_name;\n',
  'R__hotel_view.sql': 'create or replace view hotel_names as select id, name from hotel;\n',
  'README.md': 'not a migration\n',
  'V4_one_underscore.sql': 'select 1;\n',
}
const ORDER = [
  'V1__create_hotels',
  'V1.1__add_stars',
  'V2__rooms',
  'V3__room_beds',
  'V10__hotel_name_index',
  'R__hotel_view',
]

async function writeHistory(): Promise<string> {
  const dir = await tempDir('flyway')
  for (const [file, text] of Object.entries(HISTORY)) await writeFile(join(dir, file), text)
  return dir
}

describeWithServer('flux import flyway', (server) => {
  testWithFlyway(
    'takes over a history half applied by Flyway: versions in numeric order, undos as downs, the repeatable last',
    async () => {
      const history = await writeHistory()
      const url = await freshDatabase(server)
      const migrated = flywayMigrate(url, history, { target: '2' })
      expect(migrated.code, migrated.output).toBe(0)
      // Flyway ran the versions up to 2, then the repeatable, and recorded each with its checksum:
      // the import's own (flywayChecksum) must agree with it, CRLF file included
      expect(await flywayRows(url)).toEqual(
        ['V1__create_hotels.sql', 'V1.1__add_stars.sql', 'V2__rooms.sql', 'R__hotel_view.sql'].map((script) => ({
          script,
          version: /^V([0-9.]+)__/.exec(script)?.[1] ?? null,
          checksum: flywayChecksum(HISTORY[script]!),
          success: true,
        })),
      )
      const project = await fluxProject()
      const folder = join(project, 'migrations')

      const imported = flux(project, url, 'import', 'flyway', '--store', 'catalog', '--from', history)
      expect(imported.code, imported.stderr).toBe(0)
      expect(imported.stdout).toContain("flyway's flyway_schema_history has 3 applied; recorded 3 in flux's ledger")
      expect(imported.stdout).toContain('V4_one_underscore.sql: not V<version>__, U<version>__ or R__<name>.sql')
      expect(imported.stdout).not.toContain('README.md')
      expect((await filesOf(folder)).filter((file) => file.endsWith('.sql'))).toEqual(
        [...ORDER].sort().map((name) => `${name}.sql`),
      )
      for (const name of ORDER.slice(0, -1)) {
        const sections = await sectionsOf(join(folder, `${name}.sql`))
        expect(sections.up, name).toBe(asSection(HISTORY[`${name}.sql`]!))
        expect(sections.down, name).toBe(asSection(HISTORY[`${name.replace(/^V/, 'U')}.sql`]!))
      }
      const header = (text: string) => text.slice(0, text.indexOf('-- flux:up'))
      expect(header(await readFile(join(folder, 'V10__hotel_name_index.sql'), 'utf8'))).toBe(`-- flux:store catalog
-- flux:parents V3__room_beds
-- flux:transaction off (CREATE INDEX CONCURRENTLY cannot run in a transaction)
-- imported by \`flux import flyway\` from V10__hotel_name_index.sql, U10__hotel_name_index.sql
`)
      expect(header(await readFile(join(folder, 'R__hotel_view.sql'), 'utf8'))).toContain(
        '-- flux:parents V10__hotel_name_index\n-- flux:repeatable true\n',
      )
      // the repeatable that Flyway ran is pending for flux: its parent V10 is, and flux runs it once
      // more after V10 (Flyway's repeatables are written to be run again: `create or replace`)
      expect(ORDER.map((name) => statuses(project, url)[`app/${name}`])).toEqual([
        'applied',
        'applied',
        'applied',
        'pending',
        'pending',
        'pending',
      ])
      const again = flux(project, url, 'import', 'flyway', '--store', 'catalog', '--from', history)
      expect(again.stdout).toContain('nothing to import')

      const up = flux(project, url, 'up')
      expect(up.code, up.stderr).toBe(0)
      const runOf = new Map((await fluxLedger(url)).map((row) => [row.id, row.run_id]))
      expect(runOf.get('app/V2__rooms')).toBe(runOf.get('app/V1__create_hotels'))
      expect(runOf.get('app/V3__room_beds')).not.toBe(runOf.get('app/V1__create_hotels'))

      const byHand = await freshDatabase(server)
      psqlFiles(
        byHand,
        ORDER.map((name) => join(history, `${name}.sql`)),
      )
      const expected = schemaDump(byHand)
      expect(expected).toContain('CREATE VIEW public.hotel_names')
      expect(schemaDump(url, ['public.flyway_schema_history'])).toBe(expected)

      const down = flux(project, url, 'down', '--steps', '3', '--yes')
      expect(down.code, down.stderr + down.stdout).toBe(0)
      expect(
        await withDatabase(
          url,
          async (client) => (await client.query(`select to_regclass('hotel_name')::text as found`)).rows[0].found,
        ),
      ).toBe(null)
      const reapplied = flux(project, url, 'up')
      expect(reapplied.code, reapplied.stderr).toBe(0)
      expect(schemaDump(url, ['public.flyway_schema_history'])).toBe(expected)
    },
  )

  testWithFlyway('stops on a failed row and on a changed applied file, writing nothing', async () => {
    // Flyway keeps a failed row on PostgreSQL only for a migration run outside a transaction (a
    // failed one in a transaction is rolled back with its row) and when its lock is not
    // transactional either: a V1.1 that fails half way, its first statement committed
    const broken = await writeHistory()
    await writeFile(
      join(broken, 'V1.1__add_stars.sql'),
      'alter table hotel add column stars int;\nalter table hotel add column stars int;\n',
    )
    await writeFile(join(broken, 'V1.1__add_stars.sql.conf'), 'executeInTransaction=false\n')
    const failed = await freshDatabase(server)
    const failing = flywayMigrate(failed, broken, { target: '1.1', 'postgresql.transactional.lock': 'false' })
    expect(failing.code).toBe(1)
    expect(failing.output).toContain(
      'Migration of schema "public" to version "1.1 - add stars" [non-transactional] failed!',
    )
    expect((await flywayRows(failed)).map((row) => [row.script, row.success])).toEqual([
      ['V1__create_hotels.sql', true],
      ['V1.1__add_stars.sql', false],
    ])
    const project = await fluxProject()
    const dirty = flux(project, failed, 'import', 'flyway', '--store', 'catalog', '--from', broken)
    expect(dirty.code).toBe(3)
    expect(dirty.stderr).toContain(
      "flyway's flyway_schema_history says V1.1__add_stars.sql (installed_rank 2) failed (success = false): nothing was imported",
    )
    expect(dirty.stderr).toContain('flyway repair')
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(failed, 'flux_ledger')).toBe(false)

    const history = await writeHistory()
    const changed = await freshDatabase(server)
    const first = flywayMigrate(changed, history, { target: '1' })
    expect(first.code, first.output).toBe(0)
    await writeFile(
      join(history, 'V1__create_hotels.sql'),
      'create table hotel (id bigint primary key, name text not null);\n',
    )
    const drift = flux(project, changed, 'import', 'flyway', '--store', 'catalog', '--from', history)
    expect(drift.code).toBe(3)
    expect(drift.stderr).toContain(
      `V1__create_hotels.sql changed after Flyway applied it (flyway_schema_history has checksum ${flywayChecksum(HISTORY['V1__create_hotels.sql']!)}`,
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(changed, 'flux_ledger')).toBe(false)

    const gone = await freshDatabase(server)
    const moved = await writeHistory()
    const two = flywayMigrate(gone, moved, { target: '1.1' })
    expect(two.code, two.output).toBe(0)
    await rm(join(moved, 'V1.1__add_stars.sql'))
    const missing = flux(project, gone, 'import', 'flyway', '--store', 'catalog', '--from', moved)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "flyway's flyway_schema_history records V1.1__add_stars.sql as applied, but the migrations folder has no file for it",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })
})
