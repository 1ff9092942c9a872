import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { emptyProject, flux, project, statusJson } from './helpers.ts'

// an embedded PostgreSQL (PGlite) store with a .sql migration whose down drops a table
async function sqlProject(): Promise<string> {
  const dir = await emptyProject()
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({
  stores: { catalog: pgStore({ pglite: './var/pg' }) },
  migrations: './migrations',
})
`,
  )
  await mkdir(join(dir, 'migrations'))
  await writeFile(
    join(dir, 'migrations/001_hotels.sql'),
    '-- flux:store catalog\n-- flux:up\ncreate table hotel (id int);\n-- flux:down\ndrop table hotel;\n',
  )
  await writeFile(
    join(dir, 'migrations/002_index.sql'),
    '-- flux:store catalog\n-- flux:up\ncreate index hotel_id on hotel (id);\n-- flux:down\ndrop index hotel_id;\n',
  )
  const up = await flux(['up'], dir)
  expect(up.code, up.stderr).toBe(0)
  return dir
}

describe('safe down', () => {
  it('asks before a TypeScript migration whose down() declares that it destroys data', async () => {
    const dir = await project({
      '001_photos.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'files',
  destroysData: 'deletes every photo',
  async up({ store }) { await store.put('photos/a.jpg', 'jpeg') },
  async down({ store }) { await store.delete('photos/a.jpg') },
})
`,
    })
    expect((await flux(['up'], dir)).code).toBe(0)
    const refused = await flux(['down', 'base'], dir)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('app/001_photos destroys data: deletes every photo')
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied'])
    const yes = await flux(['down', 'base', '--yes'], dir)
    expect(yes.code, yes.stderr).toBe(0)
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['pending'])
  })

  it('off a terminal, refuses a down whose .sql destroys data unless --yes', async () => {
    const dir = await sqlProject()
    // dropping an index destroys no data: no question asked
    const index = await flux(['down', '--steps', '1'], dir)
    expect(index.code, index.stderr).toBe(0)
    const refused = await flux(['down', 'base'], dir)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('app/001_hotels destroys data: drop table')
    expect(refused.stderr).toContain('nothing was reverted')
    expect((await statusJson(dir)).map((row) => [row.id, row.status])).toEqual([
      ['app/001_hotels', 'applied'],
      ['app/002_index', 'pending'],
    ])
    const yes = await flux(['down', 'base', '--yes'], dir)
    expect(yes.code, yes.stderr).toBe(0)
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['pending', 'pending'])
  })
})
