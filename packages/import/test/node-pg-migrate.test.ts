import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { runner } from 'node-pg-migrate'
import { expect, it } from 'vitest'
import { importBaselineThenUp, schemaWithout } from './fixtures/ledger-only.ts'
import {
  describeWithServer,
  filesOf,
  flux,
  fluxProject,
  freshDatabase,
  hasTable,
  tempDir,
  withDatabase,
} from './import-helpers.ts'

// node-pg-migrate itself applies the first half of a history into pgmigrations; then
// `flux import node-pg-migrate` writes a baseline, and the rest is rewritten as flux migrations.
const MIGRATIONS: Record<string, string> = {
  '1767225600000_create-hotels.cjs': `exports.up = (pgm) => { pgm.createTable('hotels', { id: 'id', name: { type: 'text', notNull: true } }) }
exports.down = (pgm) => { pgm.dropTable('hotels') }
`,
  '1767312000000_add-stars.cjs': `exports.up = (pgm) => { pgm.addColumn('hotels', { stars: { type: 'integer' } }) }
exports.down = (pgm) => { pgm.dropColumn('hotels', 'stars') }
`,
  '1767398400000_hotels-by-name.cjs': `exports.up = (pgm) => { pgm.createIndex('hotels', 'name') }
exports.down = (pgm) => { pgm.dropIndex('hotels', 'name') }
`,
}

async function migrate(url: string, dir: string, count: number): Promise<void> {
  await runner({
    databaseUrl: url,
    dir,
    direction: 'up',
    count,
    migrationsTable: 'pgmigrations',
    log: () => {},
  })
}

describeWithServer('flux import node-pg-migrate', (server) => {
  it('takes over a history node-pg-migrate half applied: a baseline, then flux migrations', async () => {
    const url = await freshDatabase(server)
    const history = await tempDir('node-pg-migrate')
    for (const [file, text] of Object.entries(MIGRATIONS)) await writeFile(join(history, file), text)
    await migrate(url, history, 2)
    const project = await fluxProject()

    const pending = flux(project, url, 'import', 'node-pg-migrate', '--store', 'catalog', '--from', history)
    expect(pending.code).toBe(2)
    expect(pending.stderr).toContain(
      "node-pg-migrate's pgmigrations has not applied 1 migration of its folder: 1767398400000_hotels-by-name.cjs;",
    )
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    expect(await hasTable(url, 'flux_ledger')).toBe(false)

    await rename(join(history, '1767398400000_hotels-by-name.cjs'), join(await tempDir('unrun'), 'hotels-by-name.cjs'))
    await importBaselineThenUp({
      project,
      url,
      tool: 'node-pg-migrate',
      from: history,
      table: 'pgmigrations',
      applied: ['1767225600000_create-hotels', '1767312000000_add-stars'],
      next: [
        {
          slug: 'hotels_by_name',
          up: 'create index hotels_name_index on hotels (name);',
          down: 'drop index hotels_name_index;',
        },
      ],
    })
    const rows = await withDatabase(
      url,
      async (client) => (await client.query('select name from pgmigrations order by id')).rows,
    )
    expect(rows).toEqual([{ name: '1767225600000_create-hotels' }, { name: '1767312000000_add-stars' }])

    const byTool = await freshDatabase(server)
    const all = await tempDir('node-pg-migrate-all')
    for (const [file, text] of Object.entries(MIGRATIONS)) await writeFile(join(all, file), text)
    await migrate(byTool, all, Number.POSITIVE_INFINITY)
    const expected = schemaWithout(byTool, ['public.pgmigrations'])
    expect(expected).toContain('CREATE INDEX hotels_name_index')
    expect(schemaWithout(url, ['public.pgmigrations'])).toBe(expected)
  })
})
