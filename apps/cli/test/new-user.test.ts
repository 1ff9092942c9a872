import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { emptyProject, flux, statusJson } from './helpers.ts'

describe('a new user in an empty folder', () => {
  it('init, new, up, up again, drift, down', async () => {
    const dir = await emptyProject()
    const init = await flux(['init'], dir)
    expect(init.code, init.stderr).toBe(0)
    expect(init.stdout).toContain('created flux.config.ts')
    expect(await readdir(join(dir, 'migrations'))).toEqual(['flux.sum'])
    expect((await flux(['init'], dir)).code).toBe(2)

    const created = await flux(['new', 'add-photos'], dir)
    expect(created.code, created.stderr).toBe(0)
    const [first] = (await readdir(join(dir, 'migrations'))).filter((name) => name.endsWith('.ts'))
    expect(first).toMatch(/^\d{14}_add-photos\.ts$/)
    const file = join(dir, 'migrations', first!)
    const source = await readFile(file, 'utf8')
    await writeFile(
      file,
      source
        .replace('// change the store here', "await store.put('photos/README.txt', 'hello')")
        .replace('// undo up() here', "await store.delete('photos/README.txt')"),
    )
    expect((await flux(['sum'], dir)).code).toBe(0)

    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain(`app/${first!.replace('.ts', '')}`)
    expect(await readFile(join(dir, 'var/files/photos/README.txt'), 'utf8')).toBe('hello')
    expect(await statusJson(dir)).toEqual([
      expect.objectContaining({
        id: `app/${first!.replace('.ts', '')}`,
        component: 'app',
        store: 'files',
        status: 'applied',
      }),
    ])

    const again = await flux(['up'], dir)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('nothing to apply')

    const second = await flux(['new', 'add thumbnails'], dir)
    expect(second.code, second.stderr).toBe(0)
    const secondName = (await readdir(join(dir, 'migrations'))).filter((name) => name.endsWith('.ts')).sort()[1]!
    expect(await readFile(join(dir, 'migrations', secondName), 'utf8')).toContain(
      `parents: ['${first!.replace('.ts', '')}']`,
    )
    expect((await flux(['up'], dir)).code).toBe(0)
    expect((await flux(['verify'], dir)).code).toBe(0)

    // an applied migration edited: verify and up stop with exit 3, naming the file; first
    // because the folder no longer matches flux.sum, then, once the sum is rewritten, as drift
    await writeFile(file, `${await readFile(file, 'utf8')}\n// edited\n`)
    const verify = await flux(['verify'], dir)
    expect(verify.code).toBe(3)
    expect(verify.stdout).toContain(`migrations/${first}`)
    const blocked = await flux(['up'], dir)
    expect(blocked.code).toBe(3)
    expect(blocked.stderr).toContain(`migrations/${first} changed since migrations/flux.sum was written`)
    expect((await flux(['sum'], dir)).code).toBe(0)
    const drifted = await flux(['up'], dir)
    expect(drifted.code).toBe(3)
    expect(drifted.stderr).toContain(`migrations/${first} changed after it was applied`)
    await writeFile(file, (await readFile(file, 'utf8')).replace('\n// edited\n', ''))
    expect((await flux(['sum'], dir)).code).toBe(0)

    const down = await flux(['down', '--steps', '1'], dir)
    expect(down.code, down.stderr).toBe(0)
    expect(down.stdout).toContain(`app/${secondName.replace('.ts', '')}`)
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied', 'pending'])
  })
})

describe('the checksum of an applied migration', () => {
  it('covers the local modules it imports, so editing a shared helper is drift', async () => {
    const { project } = await import('./helpers.ts')
    const dir = await project({
      '_paths.ts': "export const readme = 'photos/README.txt'\n",
      '001_readme.ts': `import { defineMigration } from '@flux/core'
import { readme } from './_paths.ts'
export default defineMigration({ store: 'files', async up({ store }) { await store.put(readme, 'hello') } })
`,
    })
    expect((await flux(['up'], dir)).code).toBe(0)
    await writeFile(join(dir, 'migrations/_paths.ts'), "export const readme = 'photos/README.md'\n")
    const up = await flux(['up'], dir)
    expect(up.code).toBe(3)
    expect(up.stderr).toContain('migrations/001_readme.ts changed after it was applied')
    expect(up.stderr).toContain('the local modules it imports')
  })
})

describe('a CommonJS project (npm init -y: "type": "commonjs") or one without "type"', () => {
  it.each([
    ['commonjs', { name: 'shop', type: 'commonjs' }],
    ['without "type"', { name: 'shop' }],
  ])(
    '%s: loads the TypeScript config and migrations as ES modules, local helpers included, without warnings',
    async (_, manifest) => {
      const dir = await emptyProject()
      await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
      expect((await flux(['init'], dir)).code).toBe(0)
      await writeFile(join(dir, 'migrations', '_greeting.ts'), "export const greeting: string = 'hello'\n")
      await writeFile(
        join(dir, 'migrations', '001_readme.ts'),
        `import { defineMigration } from '@flux/core'
import type { FsClient } from '@flux/fs'
import { greeting } from './_greeting.ts'

export default defineMigration<FsClient>({
  store: 'files',
  async up({ store }) {
    await store.put('README.txt', greeting)
  },
})
`,
      )
      expect((await flux(['sum'], dir)).code).toBe(0)
      const up = await flux(['up'], dir)
      expect(up.code, up.stderr).toBe(0)
      expect(up.stderr).not.toContain('Warning')
      expect(await readFile(join(dir, 'var/files/README.txt'), 'utf8')).toBe('hello')
      expect(await statusJson(dir)).toEqual([expect.objectContaining({ id: 'app/001_readme', status: 'applied' })])
    },
  )
})
