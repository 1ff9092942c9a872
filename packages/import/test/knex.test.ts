import { mkdir, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import knexFactory from 'knex'
import { expect, it } from 'vitest'
import { importBaselineThenUp, schemaWithout } from './fixtures/ledger-only.ts'
import {
  describeWithServer,
  filesOf,
  flux,
  fluxProject,
  freshDatabase,
  hasTable,
  statuses,
  tempDir,
  withDatabase,
} from './import-helpers.ts'

// knex itself applies the first half of a history of JavaScript migrations into knex_migrations;
// then `flux import knex` writes a baseline, and the rest is rewritten as flux migrations.
const MIGRATIONS: Record<string, string> = {
  '20260101000000_create_hotels.cjs': `exports.up = (knex) => knex.schema.createTable('hotels', (t) => { t.increments(); t.string('name') })
exports.down = (knex) => knex.schema.dropTable('hotels')
`,
  '20260102000000_add_stars.cjs': `exports.up = (knex) => knex.schema.alterTable('hotels', (t) => { t.integer('stars') })
exports.down = (knex) => knex.schema.alterTable('hotels', (t) => { t.dropColumn('stars') })
`,
  '20260103000000_create_rooms.cjs': `exports.up = (knex) => knex.schema.createTable('rooms', (t) => { t.increments(); t.integer('hotel_id'); t.string('number') })
exports.down = (knex) => knex.schema.dropTable('rooms')
`,
  '20260104000000_add_room_price.cjs': `exports.up = (knex) => knex.schema.alterTable('rooms', (t) => { t.integer('price') })
exports.down = (knex) => knex.schema.alterTable('rooms', (t) => { t.dropColumn('price') })
`,
}

async function knexMigrate(url: string, directory: string, how: 'up' | 'latest', times = 1): Promise<void> {
  const knex = knexFactory({ client: 'pg', connection: url, migrations: { directory, loadExtensions: ['.cjs'] } })
  try {
    for (let i = 0; i < times; i++) await knex.migrate[how]()
  } finally {
    await knex.destroy()
  }
}

describeWithServer('flux import knex', (server) => {
  it('takes over a history knex half applied: a baseline, then flux migrations; nothing runs twice', async () => {
    const url = await freshDatabase(server)
    const history = await tempDir('knex')
    for (const [file, text] of Object.entries(MIGRATIONS)) await writeFile(join(history, file), text)
    await knexMigrate(url, history, 'up', 2)
    const project = await fluxProject()

    // the two knex has not applied would be lost: the import names them and writes nothing
    const pending = flux(project, url, 'import', 'knex', '--store', 'catalog', '--from', history)
    expect(pending.code).toBe(2)
    expect(pending.stderr).toContain(
      "knex's knex_migrations has not applied 2 migrations of its folder: 20260103000000_create_rooms.cjs, 20260104000000_add_room_price.cjs; flux does not run knex's code, so the baseline cannot stand for them: nothing was imported",
    )
    expect(pending.stderr).toContain('run them with knex first (or move them out of the folder')
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(url, 'flux_ledger')).toBe(false)

    // the team moves them out, to write them again as flux migrations
    const unrun = await tempDir('knex-unrun')
    for (const file of ['20260103000000_create_rooms.cjs', '20260104000000_add_room_price.cjs']) {
      await rename(join(history, file), join(unrun, file))
    }
    const { baseline } = await importBaselineThenUp({
      project,
      url,
      tool: 'knex',
      from: history,
      table: 'knex_migrations',
      applied: ['20260101000000_create_hotels.cjs', '20260102000000_add_stars.cjs'],
      next: [
        {
          slug: 'create_rooms',
          up: 'create table rooms (id serial primary key, hotel_id integer, number varchar(255));',
          down: 'drop table rooms;',
        },
        {
          slug: 'add_room_price',
          up: 'alter table rooms add column price integer;',
          down: 'alter table rooms drop column price;',
        },
      ],
    })
    // the baseline has no down: flux refuses to revert it, and reverts nothing
    const down = flux(project, url, 'down', '--steps', '3', '--yes')
    expect(down.code, down.stdout).toBe(2)
    expect(down.stderr).toContain(`app/${baseline}`)
    expect(Object.values(statuses(project, url))).toEqual(['applied', 'applied', 'applied'])
    // knex's ledger is left as it was
    const rows = await withDatabase(
      url,
      async (client) => (await client.query('select name, batch from knex_migrations order by id')).rows,
    )
    expect(rows).toEqual([
      { name: '20260101000000_create_hotels.cjs', batch: 1 },
      { name: '20260102000000_add_stars.cjs', batch: 2 },
    ])
    // the schema is the one knex gives with all four
    const byKnex = await freshDatabase(server)
    const all = await tempDir('knex-all')
    await mkdir(all, { recursive: true })
    for (const [file, text] of Object.entries(MIGRATIONS)) await writeFile(join(all, file), text)
    await knexMigrate(byKnex, all, 'latest')
    const ledgers = ['public.knex_migrations', 'public.knex_migrations_lock']
    const expected = schemaWithout(byKnex, ledgers)
    expect(expected).toContain('CREATE TABLE public.rooms')
    expect(schemaWithout(url, ledgers)).toBe(expected)
  })

  it('stops on a knex_migrations row without a file, and on a store knex never ran on', async () => {
    const url = await freshDatabase(server)
    const history = await tempDir('knex')
    await writeFile(join(history, '20260101000000_create_hotels.cjs'), MIGRATIONS['20260101000000_create_hotels.cjs']!)
    const project = await fluxProject()
    const never = flux(project, url, 'import', 'knex', '--store', 'catalog', '--from', history)
    expect(never.code).toBe(2)
    expect(never.stderr).toContain(
      'knex has no ledger in store "catalog": it never ran there, so there is nothing to baseline',
    )

    await knexMigrate(url, history, 'latest')
    await withDatabase(url, (client) =>
      client.query(
        "insert into knex_migrations (name, batch, migration_time) values ('20251231000000_gone.js', 1, now())",
      ),
    )
    const missing = flux(project, url, 'import', 'knex', '--store', 'catalog', '--from', history)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain(
      "knex's knex_migrations records 20251231000000_gone.js as applied, but the folder has no file for it: nothing was imported",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(url, 'flux_ledger')).toBe(false)
  })
})
