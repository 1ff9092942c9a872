import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Sequelize } from 'sequelize'
import { SequelizeStorage, Umzug } from 'umzug'
import { expect, it } from 'vitest'
import { importBaselineThenUp, schemaWithout } from './fixtures/ledger-only.ts'
import {
  describeWithServer,
  filesOf,
  flux,
  fluxProject,
  freshDatabase,
  tempDir,
  withDatabase,
} from './import-helpers.ts'

// umzug itself, with its SequelizeStorage (the SequelizeMeta table), applies the first half of
// a history; then `flux import umzug` writes a baseline, and the rest becomes flux migrations.
const MIGRATIONS: Record<string, string> = {
  '2026.01.01T00.00.00.create-hotels.cjs': `exports.up = ({ context }) => context.sequelize.query('create table hotels (id serial primary key, name text not null)')
exports.down = ({ context }) => context.sequelize.query('drop table hotels')
`,
  '2026.01.02T00.00.00.add-stars.cjs': `exports.up = ({ context }) => context.sequelize.query('alter table hotels add column stars integer')
exports.down = ({ context }) => context.sequelize.query('alter table hotels drop column stars')
`,
  '2026.01.03T00.00.00.create-rooms.cjs': `exports.up = ({ context }) => context.sequelize.query('create table rooms (id serial primary key, hotel_id integer not null)')
exports.down = ({ context }) => context.sequelize.query('drop table rooms')
`,
}

async function umzugUp(url: string, dir: string, to?: string): Promise<void> {
  const sequelize = new Sequelize(url, { logging: false })
  try {
    const umzug = new Umzug({
      migrations: { glob: `${dir.split('\\').join('/')}/*.cjs` },
      context: sequelize.getQueryInterface(),
      storage: new SequelizeStorage({ sequelize }),
      logger: undefined,
    })
    await umzug.up(to === undefined ? {} : { to })
  } finally {
    await sequelize.close()
  }
}

describeWithServer('flux import umzug', (server) => {
  it('takes over a history umzug half applied (SequelizeStorage): a baseline, then flux migrations', async () => {
    const url = await freshDatabase(server)
    const history = await tempDir('umzug')
    for (const [file, text] of Object.entries(MIGRATIONS)) await writeFile(join(history, file), text)
    await umzugUp(url, history, '2026.01.02T00.00.00.add-stars.cjs')
    const project = await fluxProject()

    const pending = flux(project, url, 'import', 'umzug', '--store', 'catalog', '--from', history)
    expect(pending.code).toBe(2)
    expect(pending.stderr).toContain(
      "umzug's SequelizeMeta has not applied 1 migration of its folder: 2026.01.03T00.00.00.create-rooms.cjs;",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])

    await rename(
      join(history, '2026.01.03T00.00.00.create-rooms.cjs'),
      join(await tempDir('unrun'), 'create-rooms.cjs'),
    )
    await importBaselineThenUp({
      project,
      url,
      tool: 'umzug',
      from: history,
      table: 'SequelizeMeta',
      applied: ['2026.01.01T00.00.00.create-hotels.cjs', '2026.01.02T00.00.00.add-stars.cjs'],
      next: [
        {
          slug: 'create_rooms',
          up: 'create table rooms (id serial primary key, hotel_id integer not null);',
          down: 'drop table rooms;',
        },
      ],
    })
    const rows = await withDatabase(
      url,
      async (client) => (await client.query('select name from "SequelizeMeta" order by name')).rows,
    )
    expect(rows.map((row) => row.name)).toEqual([
      '2026.01.01T00.00.00.create-hotels.cjs',
      '2026.01.02T00.00.00.add-stars.cjs',
    ])

    const byTool = await freshDatabase(server)
    const all = await tempDir('umzug-all')
    for (const [file, text] of Object.entries(MIGRATIONS)) await writeFile(join(all, file), text)
    await umzugUp(byTool, all)
    const expected = schemaWithout(byTool, ['public."SequelizeMeta"'])
    expect(expected).toContain('CREATE TABLE public.rooms')
    expect(schemaWithout(url, ['public."SequelizeMeta"'])).toBe(expected)
  })
})
