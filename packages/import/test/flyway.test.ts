import { readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type pg from 'pg'
import { expect, it } from 'vitest'
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
  withDatabase,
} from './import-helpers.ts'

// Flyway is a Java program; its history here is written to its documented layout and applied
// by its rules: the ledger created as Flyway creates it on PostgreSQL, each versioned migration
// run in a transaction with its row (installed_rank, version, description, type SQL, script,
// checksum = CRC32 of the lines, success).
const FLYWAY_LEDGER = `CREATE TABLE "flyway_schema_history" (
    "installed_rank" INT NOT NULL,
    "version" VARCHAR(50),
    "description" VARCHAR(200) NOT NULL,
    "type" VARCHAR(20) NOT NULL,
    "script" VARCHAR(1000) NOT NULL,
    "checksum" INTEGER,
    "installed_by" VARCHAR(100) NOT NULL,
    "installed_on" TIMESTAMP NOT NULL DEFAULT now(),
    "execution_time" INTEGER NOT NULL,
    "success" BOOLEAN NOT NULL
);
ALTER TABLE "flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" PRIMARY KEY ("installed_rank");
CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_schema_history" ("success");`

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

/** `flyway migrate -target=<last>`, by Flyway's rules; `failing` gets a row with success = false. */
async function flywayMigrate(client: pg.Client, files: readonly string[], failing?: string): Promise<void> {
  await client.query(FLYWAY_LEDGER)
  let rank = 0
  for (const file of files) {
    const [, version, description] = /^V([0-9.]+)__(.+)\.sql$/.exec(file)!
    const text = HISTORY[file]!
    const row = [++rank, version, description!.replaceAll('_', ' '), 'SQL', file, flywayChecksum(text), 'flyway', 3]
    if (file === failing) {
      await client.query(
        `insert into flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) values ($1, $2, $3, $4, $5, $6, $7, $8, false)`,
        row,
      )
      return
    }
    await client.query('begin')
    await client.query(text)
    await client.query(
      `insert into flyway_schema_history (installed_rank, version, description, type, script, checksum, installed_by, execution_time, success) values ($1, $2, $3, $4, $5, $6, $7, $8, true)`,
      row,
    )
    await client.query('commit')
  }
}

describeWithServer('flux import flyway', (server) => {
  it('takes over a history half applied by Flyway: versions in numeric order, undos as downs, the repeatable last', async () => {
    const history = await writeHistory()
    const url = await freshDatabase(server)
    await withDatabase(url, (client) =>
      flywayMigrate(client, ['V1__create_hotels.sql', 'V1.1__add_stars.sql', 'V2__rooms.sql']),
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
  })

  it('stops on a failed row and on a changed applied file, writing nothing', async () => {
    const history = await writeHistory()
    const failed = await freshDatabase(server)
    await withDatabase(failed, (client) =>
      flywayMigrate(client, ['V1__create_hotels.sql', 'V1.1__add_stars.sql'], 'V1.1__add_stars.sql'),
    )
    const project = await fluxProject()
    const dirty = flux(project, failed, 'import', 'flyway', '--store', 'catalog', '--from', history)
    expect(dirty.code).toBe(3)
    expect(dirty.stderr).toContain(
      "flyway's flyway_schema_history says V1.1__add_stars.sql (installed_rank 2) failed (success = false): nothing was imported",
    )
    expect(dirty.stderr).toContain('flyway repair')
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(failed, 'flux_ledger')).toBe(false)

    const changed = await freshDatabase(server)
    await withDatabase(changed, (client) => flywayMigrate(client, ['V1__create_hotels.sql']))
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
    await withDatabase(gone, (client) => flywayMigrate(client, ['V1__create_hotels.sql', 'V1.1__add_stars.sql']))
    await rm(join(moved, 'V1.1__add_stars.sql'))
    const missing = flux(project, gone, 'import', 'flyway', '--store', 'catalog', '--from', moved)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "flyway's flyway_schema_history records V1.1__add_stars.sql as applied, but the migrations folder has no file for it",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })
})
