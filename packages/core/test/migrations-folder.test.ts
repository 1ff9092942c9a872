import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Adapter } from '../src/adapter.ts'
import { defineMigration } from '../src/migration.ts'
import { loadProject } from '../src/project.ts'
import { writeSum } from '../src/sum.ts'

// loadProject() on a project whose config and migrations the importer seam provides.
const adapter = {
  specVersion: 'v1',
  kind: 'memory',
  open: async () => {},
  close: async () => {},
  describe: () => 'memory',
  client: () => ({}),
  acquire: async () => ({}),
  inspectLease: async () => undefined,
  breakLease: async () => undefined,
  ledger: { read: async () => [], record: async () => {}, remove: async () => {} },
} as unknown as Adapter

let dir: string
let imported: string[]
let migrations: string | undefined
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-folder-'))
  await writeFile(join(dir, 'flux.config.ts'), '// the test injects the module')
  imported = []
  migrations = undefined
})
afterEach(() => rm(dir, { recursive: true, force: true }))

const importer = async (file: string) => {
  if (file.endsWith('flux.config.ts')) return { default: { stores: { notes: adapter }, migrations } }
  imported.push(file)
  return { default: defineMigration({ store: 'notes', up: async () => {} }) }
}

describe("the application's migrations folder", () => {
  it('missing, is a configuration error naming the folder and the config file', async () => {
    migrations = './db/migrations'
    await expect(loadProject({ cwd: dir, importer })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      exitCode: 2,
      message: 'flux.config.ts: migrations folder db/migrations/ does not exist',
      file: 'flux.config.ts',
      hint: 'create it (`mkdir -p db/migrations`; `flux new <name>` also creates it), or fix `migrations` in flux.config.ts',
      details: { key: 'migrations', path: 'db/migrations' },
    })
  })

  it('missing by default (./migrations) too; a file in its place is no folder', async () => {
    await expect(loadProject({ cwd: dir, importer })).rejects.toThrow(
      'flux.config.ts: migrations folder migrations/ does not exist',
    )
    await writeFile(join(dir, 'migrations'), '')
    await expect(loadProject({ cwd: dir, importer })).rejects.toThrow(
      'flux.config.ts: migrations folder migrations/ is not a folder',
    )
  })

  it('may be missing when the caller creates it (`flux new`), or loads no migrations (`flux unlock`)', async () => {
    expect((await loadProject({ cwd: dir, importer, allowMissingMigrations: true })).migrations).toEqual([])
    expect((await loadProject({ cwd: dir, importer, configOnly: true })).migrations).toEqual([])
  })
})

describe('checkSums', () => {
  beforeEach(async () => {
    await mkdir(join(dir, 'migrations'))
    await writeFile(join(dir, 'migrations', '001_a.ts'), 'export default 1\n')
  })

  it('refuses a folder that does not match its flux.sum before importing any migration', async () => {
    await writeSum(join(dir, 'migrations'))
    await writeFile(join(dir, 'migrations', '001_a.ts'), 'export default 2\n')
    await expect(loadProject({ cwd: dir, importer, checkSums: true })).rejects.toMatchObject({
      code: 'SUM_MISMATCH',
      exitCode: 3,
      message:
        'migrations folder migrations/ does not match its flux.sum: migrations/001_a.ts changed since migrations/flux.sum was written',
    })
    expect(imported).toEqual([])
    // without the option (status, plan, verify) the project loads, and verify reports it
    expect((await loadProject({ cwd: dir, importer })).migrations.map((migration) => migration.id)).toEqual([
      'app/001_a',
    ])
  })

  it('passes a matching folder, and a folder without flux.sum', async () => {
    expect((await loadProject({ cwd: dir, importer, checkSums: true })).migrations).toHaveLength(1)
    await writeSum(join(dir, 'migrations'))
    expect((await loadProject({ cwd: dir, importer, checkSums: true })).migrations).toHaveLength(1)
  })
})
