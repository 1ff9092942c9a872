import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { describeWithServer, filesOf, flux, fluxProject, freshDatabase, statuses, tempDir } from './import-helpers.ts'

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
})
