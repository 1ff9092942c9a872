import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import {
  describeWithServer,
  filesOf,
  flux,
  fluxProject,
  freshDatabase,
  statuses,
  tempDir,
  withDatabase,
} from './import-helpers.ts'

// What `flux import` says to a user who got something wrong, and what it does when the store is down.
describeWithServer('flux import, used wrongly', (server) => {
  it('names the tools, the store and the folder it needs (exit 2), writing nothing', async () => {
    const url = await freshDatabase(server)
    const project = await fluxProject()
    const history = await tempDir('golang-migrate')
    await writeFile(join(history, '1_hotels.up.sql'), 'create table hotel (id int primary key);\n')

    const unknown = flux(project, url, 'import', 'liquibase', '--store', 'catalog', '--from', history)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('flux import does not know "liquibase"')
    expect(unknown.stderr).toContain('golang-migrate, drizzle, prisma, diesel, flyway, sqitch')

    const noStore = flux(project, url, 'import', 'golang-migrate', '--from', history)
    expect(noStore.code).toBe(2)
    expect(noStore.stderr).toContain('name the tool and the store: `flux import <tool> --store <store>`')

    const wrongStore = flux(project, url, 'import', 'golang-migrate', '--store', 'photos', '--from', history)
    expect(wrongStore.code).toBe(2)
    expect(wrongStore.stderr).toContain('unknown store "photos"')
    expect(wrongStore.stderr).toContain('pass --store with one of: catalog')

    const noFolder = flux(project, url, 'import', 'golang-migrate', '--store', 'catalog')
    expect(noFolder.code).toBe(2)
    expect(noFolder.stderr).toContain("migrations is flux's own migrations folder")

    const missing = flux(project, url, 'import', 'drizzle', '--store', 'catalog', '--from', 'nowhere')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('nowhere is not a folder: no drizzle migrations to import')
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
  })

  it('writes the files but records nothing when the store cannot be reached (exit 1), and records on the next run', async () => {
    const url = await freshDatabase(server)
    const project = await fluxProject()
    const history = await tempDir('golang-migrate')
    await writeFile(join(history, '1_hotels.up.sql'), 'create table hotel (id int primary key);\n')
    const closed = new URL(url)
    closed.port = '1'

    const offline = flux(
      project,
      closed.toString(),
      'import',
      'golang-migrate',
      '--store',
      'catalog',
      '--from',
      history,
    )
    expect(offline.code).toBe(1)
    expect(offline.stdout).toContain('wrote    migrations/0001_hotels.sql')
    expect(offline.stderr).toContain('store "catalog" could not be reached')
    expect(offline.stderr).toContain('BEFORE `flux up`')
    expect(offline.stderr + offline.stdout).not.toContain(new URL(url).password)

    const online = flux(project, url, 'import', 'golang-migrate', '--store', 'catalog', '--from', history)
    expect(online.code, online.stderr).toBe(0)
    expect(online.stdout).toContain('nothing to import: the 1 golang-migrate migration of ')
    expect(online.stdout).toContain('golang-migrate has no ledger in store "catalog" (nothing applied there)')
    expect(statuses(project, url)).toEqual({ 'app/0001_hotels': 'pending' })
  })

  it("--component writes into a component package's folder, naming the role bound to the store", async () => {
    const url = await freshDatabase(server)
    const project = await fluxProject()
    // a component of this repository: its own folder, linked into node_modules as a workspace links it
    const component = join(project, 'components', 'hotels')
    await mkdir(join(component, 'migrations'), { recursive: true })
    await writeFile(
      join(component, 'package.json'),
      JSON.stringify({ name: '@travel/hotels', version: '1.0.0', flux: { stores: { db: ['pg'] } } }),
    )
    await mkdir(join(project, 'node_modules', '@travel'), { recursive: true })
    await symlink(component, join(project, 'node_modules', '@travel', 'hotels'))
    await writeFile(join(project, 'package.json'), JSON.stringify({ dependencies: { '@travel/hotels': '1.0.0' } }))
    await writeFile(
      join(project, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({
  stores: { catalog: pgStore({ url: process.env.CATALOG_URL }) },
  migrations: './migrations',
  components: { '@travel/hotels': { stores: { db: 'catalog' } } },
})
`,
    )
    const history = await tempDir('golang-migrate')
    await writeFile(join(history, '1_hotels.up.sql'), 'create table hotel (id int primary key);\n')
    await writeFile(join(history, '1_hotels.down.sql'), 'drop table hotel;\n')

    const unknown = flux(
      project,
      url,
      'import',
      'golang-migrate',
      '--store',
      'catalog',
      '--from',
      history,
      '--component',
      '@travel/rooms',
    )
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown component "@travel/rooms"')

    const imported = flux(
      project,
      url,
      'import',
      'golang-migrate',
      '--store',
      'catalog',
      '--from',
      history,
      '--component',
      '@travel/hotels',
    )
    expect(imported.code, imported.stderr).toBe(0)
    expect(await readFile(join(component, 'migrations', '0001_hotels.sql'), 'utf8')).toMatch(/^-- flux:store db\n/)
    expect(await filesOf(join(project, 'migrations'))).toEqual([])
    await mkdir(join(project, 'migrations'))
    const up = flux(project, url, 'up')
    expect(up.code, up.stderr).toBe(0)
    expect(statuses(project, url)).toEqual({ '@travel/hotels/0001_hotels': 'applied' })
    expect(
      await withDatabase(
        url,
        async (client) => (await client.query("select to_regclass('hotel')::text as found")).rows[0].found,
      ),
    ).toBe('hotel')
  })
})
