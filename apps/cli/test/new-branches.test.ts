import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { flux, project } from './helpers.ts'

const migration = (parents: string[]) => `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'files',
  parents: ${JSON.stringify(parents)},
  async up() {},
  async down() {},
})
`

/** 001_a with two children, 002_b and 003_c: two heads. */
async function branched(): Promise<string> {
  return project({ '001_a.ts': migration([]), '002_b.ts': migration(['001_a']), '003_c.ts': migration(['001_a']) })
}

async function written(dir: string, slug: string): Promise<string> {
  const file = (await readdir(join(dir, 'migrations'))).find((name) => name.endsWith(`_${slug}.ts`))
  expect(file, `a migration file for ${slug}`).toBeDefined()
  return readFile(join(dir, 'migrations', file!), 'utf8')
}

describe('flux new on purpose: branches and dependencies', () => {
  it('with several heads refuses and names them, writing nothing', async () => {
    const dir = await branched()
    const result = await flux(['new', 'next'], dir)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('app has 2 heads (app/002_b, app/003_c): say which the new migration builds on')
    expect(result.stderr).toContain('`flux merge`')
    expect(result.stderr).toContain('--head <id>')
    expect((await readdir(join(dir, 'migrations'))).sort()).toEqual(['001_a.ts', '002_b.ts', '003_c.ts'])
  })

  it('--head builds on the head named, or starts a branch from a migration that is not a head', async () => {
    const dir = await branched()
    expect((await flux(['new', 'on-b', '--head', '002_b'], dir)).code).toBe(0)
    expect(await written(dir, 'on-b')).toContain("parents: ['002_b'],")
    const fork = await flux(['new', 'fork', '--head', 'app/001_a'], dir)
    expect(fork.code, fork.stderr).toBe(0)
    expect(await written(dir, 'fork')).toContain("parents: ['001_a'],")
  })

  it('--after adds a dependency on another component, and refuses one of the same component', async () => {
    const dir = await project({ '001_a.ts': migration([]) })
    const same = await flux(['new', 'x', '--after', '001_a'], dir)
    expect(same.code).toBe(2)
    expect(same.stderr).toContain('--after 001_a: app/001_a is in the same component')
    const unknown = await flux(['new', 'x', '--after', '@travel/images/001_layout'], dir)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no migration is named "@travel/images/001_layout"')
  })
})
