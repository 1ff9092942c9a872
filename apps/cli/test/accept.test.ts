import { randomBytes } from 'node:crypto'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { checksumOf } from '@flux/core'
import { describeWithServer } from '@flux/core/testing'
import { type PgClient, pgStore } from '@flux/pg'
import { afterAll, describe, expect, it } from 'vitest'
import {
  countingMigration,
  effects,
  emptyProject,
  exists,
  finish,
  flux,
  project,
  start,
  statusJson,
  waitFor,
  waitingMigration,
} from './helpers.ts'

// `flux accept`: an applied migration edited on purpose (a typo in a comment, a clearer
// name, a statement made idempotent) is accepted: its store's ledger and flux.sum take the
// file as it is now, and `verify` and `up` pass again, without running anything.

const CHECKSUM = /sha256:[0-9a-f]{12}…/

/** A project with 001_a and 002_b applied, and flux.sum written. */
async function applied(): Promise<string> {
  const dir = await project({ '001_a.ts': countingMigration('001_a'), '002_b.ts': countingMigration('002_b') })
  expect((await flux(['sum'], dir)).code).toBe(0)
  const up = await flux(['up'], dir)
  expect(up.code, up.stderr).toBe(0)
  return dir
}

async function edit(dir: string, file: string): Promise<string> {
  const path = join(dir, 'migrations', file)
  const text = `${await readFile(path, 'utf8')}// reworded after it was applied\n`
  await writeFile(path, text)
  return text
}

describe('flux accept on an fs store', () => {
  it('records the edited file in the ledger and flux.sum, printing old → new: verify and up pass again', async () => {
    const dir = await applied()
    const before = checksumOf(await readFile(join(dir, 'migrations/001_a.ts')))
    const text = await edit(dir, '001_a.ts')
    expect((await flux(['verify'], dir)).code).toBe(3)
    const refused = await flux(['up'], dir)
    expect(refused.code).toBe(3)

    const accept = await flux(['accept', '001_a'], dir)
    expect(accept.code, accept.stderr).toBe(0)
    const [line] = accept.stdout.split('\n')
    expect(line).toMatch(new RegExp(`^app/001_a: ${CHECKSUM.source} → ${CHECKSUM.source}$`))
    expect(line).toContain(`${before.slice(0, 'sha256:'.length + 12)}… → ${checksumOf(text).slice(0, 19)}…`)
    expect(accept.stdout).toContain('updated migrations/flux.sum')

    const verify = await flux(['verify'], dir)
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
    await writeFile(join(dir, 'migrations/003_c.ts'), countingMigration('003_c'))
    expect((await flux(['sum'], dir)).code).toBe(0)
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    // nothing ran again: the store keeps what the old version did
    expect(await effects(dir)).toEqual(['001_a', '002_b', '003_c'])
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied', 'applied', 'applied'])
  })

  it('accepts only what it is told: another edited migration stays drift, and its flux.sum line stays as it was', async () => {
    const dir = await applied()
    await edit(dir, '001_a.ts')
    await edit(dir, '002_b.ts')
    expect((await flux(['accept', 'app/001_a'], dir)).code).toBe(0)
    const verify = await flux(['verify'], dir)
    expect(verify.code).toBe(3)
    expect(verify.stdout).toContain(
      'drift    app/002_b in store "files": migrations/002_b.ts changed after it was applied',
    )
    expect(verify.stdout).toContain('migrations/002_b.ts changed since migrations/flux.sum was written')
    expect(verify.stdout).not.toContain('001_a')
    expect(verify.stderr).toContain('if the edit is intended, `flux accept app/002_b`')
    const both = await flux(['accept', '002_b', '001_a', '--json'], dir)
    expect(both.code, both.stderr).toBe(0)
    const result = JSON.parse(both.stdout)
    expect(result.accepted.map((change: { id: string }) => change.id)).toEqual(['app/002_b'])
    expect(result.accepted[0]).toMatchObject({
      store: 'files',
      file: 'migrations/002_b.ts',
      to: checksumOf(await readFile(join(dir, 'migrations/002_b.ts'))),
    })
    expect(result.unchanged).toEqual(['app/001_a'])
    expect(result.sums).toEqual(['migrations/flux.sum'])
    expect((await flux(['verify'], dir)).code).toBe(0)
  })

  it('says "nothing to accept" for an unchanged file, and refuses a pending one (exit 2), changing nothing', async () => {
    const dir = await applied()
    const sum = await readFile(join(dir, 'migrations/flux.sum'), 'utf8')
    const unchanged = await flux(['accept', '001_a'], dir)
    expect(unchanged.code).toBe(0)
    expect(unchanged.stdout).toBe('nothing to accept: app/001_a did not change since applied\n')

    await writeFile(join(dir, 'migrations/003_c.ts'), countingMigration('003_c'))
    await edit(dir, '001_a.ts')
    const pending = await flux(['accept', '001_a', '003_c'], dir)
    expect(pending.code).toBe(2)
    expect(pending.stderr).toContain(
      'error: app/003_c is not applied in store "files": there is no applied checksum to accept',
    )
    expect(pending.stderr).toContain('hint: edit a pending migration freely, then run `flux sum`')
    // refused as a whole: 001_a was not accepted either
    expect(await readFile(join(dir, 'migrations/flux.sum'), 'utf8')).toBe(sum)
    expect((await statusJson(dir)).find((row) => row.id === 'app/001_a')?.status).toBe('drift')

    const none = await flux(['accept'], dir)
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('name the migrations whose edit to accept')
  })

  it('waits for the lease of a store another runner migrates, and gives up after the wait (exit 4)', async () => {
    const dir = await project(
      { '001_a.ts': countingMigration('001_a'), '002_b.ts': waitingMigration('002_b') },
      { lease: '{ waitMs: 300 }' },
    )
    expect((await flux(['up', '001_a'], dir)).code).toBe(0)
    const runner = start(['up'], dir)
    try {
      await waitFor(() => exists(join(dir, 'started.flag')), 'the runner to start 002_b')
      await edit(dir, '001_a.ts')
      const accept = await flux(['accept', '001_a'], dir)
      expect(accept.code, accept.stderr).toBe(4)
      expect((await statusJson(dir)).find((row) => row.id === 'app/001_a')?.status).toBe('drift')
    } finally {
      await writeFile(join(dir, 'go.flag'), '')
      expect((await finish(runner)).code).toBe(0)
    }
  })
})

describe('flux.sum of installed packages', () => {
  it('flux sum writes the application and a linked workspace package, and skips a package in node_modules', async () => {
    const dir = await emptyProject()
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({
        name: 'site',
        private: true,
        dependencies: { '@travel/images': '1.0.0', '@travel/users': '*' },
      }),
    )
    const installed = join(dir, 'node_modules/@travel/images')
    const workspace = join(dir, 'packages/users')
    for (const [folder, name, role] of [
      [installed, '@travel/images', 'blobs'],
      [workspace, '@travel/users', 'meta'],
    ] as const) {
      await mkdir(join(folder, 'migrations'), { recursive: true })
      const flux = { migrations: './migrations', stores: { [role]: ['fs'] } }
      await writeFile(join(folder, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', flux }))
      await writeFile(
        join(folder, 'migrations/001_init.ts'),
        `import { defineMigration } from '@flux/core'\nexport default defineMigration({ store: '${role}', async up() {} })\n`,
      )
    }
    await symlink(workspace, join(dir, 'node_modules/@travel/users'))
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
export default defineConfig({
  stores: { files: fsStore({ root: './var/files' }) },
  components: { '@travel/images': { stores: { blobs: 'files' } }, '@travel/users': { stores: { meta: 'files' } } },
})
`,
    )
    await mkdir(join(dir, 'migrations'))
    await writeFile(join(dir, 'migrations/001_a.ts'), countingMigration('001_a'))

    const sum = await flux(['sum'], dir)
    expect(sum.code, sum.stderr).toBe(0)
    expect(sum.stdout.split('\n').filter(Boolean).sort()).toEqual([
      'skipped node_modules/@travel/images/migrations: @travel/images is an installed package (in node_modules)',
      'wrote migrations/flux.sum (1 migration)',
      'wrote packages/users/migrations/flux.sum (1 migration)',
    ])
    await expect(readFile(join(installed, 'migrations/flux.sum'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readFile(join(workspace, 'migrations/flux.sum'), 'utf8')).toContain('001_init.ts sha256:')
    const json = JSON.parse((await flux(['sum', '--json'], dir)).stdout)
    expect(json.skipped).toEqual([{ component: '@travel/images', folder: 'node_modules/@travel/images/migrations' }])
    expect(json.written.map((entry: { file: string }) => entry.file).sort()).toEqual([
      'migrations/flux.sum',
      'packages/users/migrations/flux.sum',
    ])

    // an edited migration of the installed package is accepted in the ledger, not in node_modules
    expect((await flux(['up'], dir)).code).toBe(0)
    await writeFile(
      join(installed, 'migrations/001_init.ts'),
      `${await readFile(join(installed, 'migrations/001_init.ts'), 'utf8')}// 1.0.1\n`,
    )
    const accept = await flux(['accept', '@travel/images/001_init'], dir)
    expect(accept.code, accept.stderr).toBe(0)
    expect(accept.stdout).toContain(
      "skipped node_modules/@travel/images/migrations/flux.sum: an installed package's (in node_modules)",
    )
    await expect(readFile(join(installed, 'migrations/flux.sum'))).rejects.toMatchObject({ code: 'ENOENT' })
    const verify = await flux(['verify'], dir)
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
  })
})

describeWithServer('FLUX_TEST_PG_URL', 'flux accept on a pg store', (serverUrl) => {
  const database = `flux_accept_${randomBytes(6).toString('hex')}`
  const url = `${serverUrl.replace(/\/[^/?]*(\?.*)?$/, '')}/${database}`
  const admin = pgStore({ url: serverUrl })
  const sql = (text: string) => (admin.client() as PgClient).query(text)
  afterAll(async () => {
    await sql(`drop database if exists ${database} with (force)`)
    await admin.close()
  })

  it('updates the checksum in the ledger table, and the next up runs', async () => {
    await admin.open()
    await sql(`create database ${database}`)
    const dir = await emptyProject()
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { catalog: pgStore({ url: process.env.CATALOG_URL }) } })
`,
    )
    await mkdir(join(dir, 'migrations'))
    const file = join(dir, 'migrations/001_hotels.sql')
    await writeFile(file, '-- flux:store catalog\n-- flux:up\ncreate table hotel (id int primary key);\n')
    const env = { CATALOG_URL: url }
    expect((await flux(['sum'], dir, env)).code).toBe(0)
    expect((await flux(['up'], dir, env)).code).toBe(0)
    const before = checksumOf(await readFile(file))
    await writeFile(file, '-- flux:store catalog\n-- flux:up\ncreate table if not exists hotel (id int primary key);\n')
    const after = checksumOf(await readFile(file))
    expect((await flux(['verify'], dir, env)).code).toBe(3)

    const accept = await flux(['accept', '001_hotels'], dir, env)
    expect(accept.code, accept.stderr).toBe(0)
    expect(accept.stdout).toContain(`app/001_hotels: ${before.slice(0, 19)}… → ${after.slice(0, 19)}…`)
    const ledger = pgStore({ url })
    await ledger.open()
    try {
      const { rows } = await (ledger.client() as PgClient).query<{ checksum: string }>(
        "select checksum from flux_ledger where id = 'app/001_hotels'",
      )
      expect(rows).toEqual([{ checksum: after }])
    } finally {
      await ledger.close()
    }
    expect((await flux(['verify'], dir, env)).code).toBe(0)
    await writeFile(
      join(dir, 'migrations/002_rooms.sql'),
      '-- flux:store catalog\n-- flux:up\ncreate table room (id int primary key);\n',
    )
    expect((await flux(['sum'], dir, env)).code).toBe(0)
    const up = await flux(['up'], dir, env)
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('app/002_rooms')
    expect(up.stdout).not.toContain('app/001_hotels')
  })
})
