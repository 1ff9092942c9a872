import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Adapter, MigrationFileLoader } from '../src/adapter.ts'
import { FluxError } from '../src/errors.ts'
import { defineMigration } from '../src/migration.ts'
import { loadProject } from '../src/project.ts'
import { checkSum, writeSum } from '../src/sum.ts'

// An adapter that reads `.txt` migrations: one statement a line, `store:` on the first line.
const textLoader: MigrationFileLoader = {
  extensions: ['.txt'],
  load(file, text) {
    const [header, ...statements] = text.trim().split('\n')
    if (!header?.startsWith('store: ')) throw new FluxError('MIGRATION_INVALID', `${file}:1: expected "store: <name>"`)
    return defineMigration({ store: header.slice(7), sql: { up: statements }, up: async () => {} })
  },
}

const adapter = {
  specVersion: 'v1',
  kind: 'text',
  migrationFiles: textLoader,
  open: async () => {},
  close: async () => {},
  describe: () => 'text',
  client: () => ({}),
  acquire: async () => ({}),
  inspectLease: async () => undefined,
  breakLease: async () => undefined,
  ledger: { read: async () => [], record: async () => {}, remove: async () => {} },
} as unknown as Adapter

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-loaders-'))
  await writeFile(join(dir, 'flux.config.ts'), '// the test injects the module')
  await mkdir(join(dir, 'migrations'))
})
afterEach(() => rm(dir, { recursive: true, force: true }))

const importer = async (file: string) => {
  if (file.endsWith('flux.config.ts')) return { default: { stores: { notes: adapter } } }
  if (file.endsWith('002_b.ts')) return { default: defineMigration({ store: 'notes', up: async () => {} }) }
  throw new Error(`unexpected import of ${file}`)
}

describe('migration files read by an adapter', () => {
  it('sit in the graph beside TypeScript ones, with their statements, and count in flux.sum', async () => {
    await writeFile(join(dir, 'migrations', '001_a.txt'), 'store: notes\ncreate a\ncreate b\n')
    await writeFile(join(dir, 'migrations', '002_b.ts'), 'export default {}')
    const project = await loadProject({ cwd: dir, importer })
    expect(project.graph.nodes.map((node) => [node.id, node.store, node.parents])).toEqual([
      ['app/001_a', 'notes', []],
      ['app/002_b', 'notes', ['app/001_a']],
    ])
    expect(project.graph.definitions.get('app/001_a')!.sql).toEqual({ up: ['create a', 'create b'] })
    await writeSum(join(dir, 'migrations'), project.loaders.keys())
    expect(await readFile(join(dir, 'migrations', 'flux.sum'), 'utf8')).toContain('001_a.txt sha256:')
    await writeFile(join(dir, 'migrations', '001_a.txt'), 'store: notes\ncreate a\n')
    expect((await checkSum(join(dir, 'migrations'), 'migrations', project.loaders.keys()))[0]!.message).toContain(
      '001_a.txt changed',
    )
  })

  it("pass the loader's error through, naming the file and line", async () => {
    await writeFile(join(dir, 'migrations', '001_a.txt'), 'create a\n')
    await expect(loadProject({ cwd: dir, importer })).rejects.toMatchObject({
      code: 'MIGRATION_INVALID',
      message: 'migrations/001_a.txt:1: expected "store: <name>"',
    })
  })
})
