import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadProject } from '@flux/core'
import { checkSingleHead, checkStairway, migrateTo, stepDown, stepUp } from '@flux/core/testing'
import { afterEach, describe, expect, it } from 'vitest'

// The testing helpers flux gives its users, on a project with an fs store.
const here = dirname(fileURLToPath(import.meta.url))
let dir: string
afterEach(() => rm(dir, { recursive: true, force: true }))

async function projectWith(migrations: Record<string, string>) {
  await mkdir(join(here, '../.flux-tmp'), { recursive: true })
  dir = await mkdtemp(join(here, '../.flux-tmp/stairway-'))
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'\nimport { fsStore } from '@flux/fs'\nexport default defineConfig({ stores: { files: fsStore({ root: ${JSON.stringify(join(dir, 'var'))} }) } })\n`,
  )
  await mkdir(join(dir, 'migrations'))
  for (const [name, body] of Object.entries(migrations)) {
    await writeFile(
      join(dir, 'migrations', name),
      `import { defineMigration } from '@flux/core'\nexport default defineMigration({ store: 'files', ${body} })\n`,
    )
  }
  return loadProject({ cwd: dir })
}

const good = (key: string) =>
  `async up({ store }) { await store.put('${key}', 'x') }, async down({ store }) { await store.delete('${key}') }`

describe('testing helpers', () => {
  it('stepUp, stepDown and migrateTo move one migration at a time', async () => {
    const project = await projectWith({ '001_a.ts': good('a'), '002_b.ts': good('b'), '003_c.ts': good('c') })
    expect((await stepUp(project))?.id).toBe('app/001_a')
    expect((await stepUp(project))?.id).toBe('app/002_b')
    expect((await stepDown(project))?.id).toBe('app/002_b')
    expect((await migrateTo(project, '003_c')).steps.map((step) => step.id)).toEqual(['app/002_b', 'app/003_c'])
    expect(await stepUp(project)).toBeUndefined()
  })

  it('the stairway passes when every down() undoes its up()', async () => {
    const project = await projectWith({ '001_a.ts': good('a'), '002_b.ts': good('b') })
    await expect(checkStairway(project)).resolves.toBeUndefined()
    checkSingleHead(project)
  })

  it('the stairway names the first migration whose down() leaves something behind', async () => {
    const project = await projectWith({
      '001_a.ts': good('a'),
      '002_leaky.ts':
        "async up({ store }) { await store.put('b', 'x'); await store.put('b.bak', 'x') }, async down({ store }) { await store.delete('b') }",
      '003_c.ts': good('c'),
    })
    await expect(checkStairway(project)).rejects.toThrow('stairway: the down() of app/002_leaky does not undo its up()')
  })

  it('the single-head check names the heads', async () => {
    const project = await projectWith({ '001_a.ts': good('a'), '002_b.ts': `parents: [], ${good('b')}` })
    expect(() => checkSingleHead(project)).toThrow('app has 2 heads: app/001_a, app/002_b')
  })
})
