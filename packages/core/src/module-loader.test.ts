import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'

// importModule runs in a Node of its own, as the CLI runs it: the module hooks it installs
// are Node's, which the test runner's own loader would bypass. It imports the built core.
const core = pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'index.js')).href

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-module-loader-'))
  // npm's default: Node would read a .ts file here as CommonJS
  await writeFile(join(dir, 'package.json'), '{ "type": "commonjs" }\n')
})
afterEach(() => rm(dir, { recursive: true, force: true }))

/** Imports the files with importModule: each one's default export, and how Node translated each (NODE_DEBUG=esm). */
async function importAll(files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
  const script = `import { importModule } from ${JSON.stringify(core)}
const values = {}
for (const name of ${JSON.stringify(Object.keys(files))}) values[name] = (await importModule(${JSON.stringify(dir)} + '/' + name)).default
console.log(JSON.stringify(values))
`
  const result = spawnSync(process.execPath, ['--input-type=module', '--eval', script], {
    env: { ...process.env, NODE_DEBUG: 'esm' },
    encoding: 'utf8',
  })
  expect(result.stderr).not.toMatch(/Error/)
  const stripped = (name: string) => result.stderr.includes(`Translating TypeScript ${pathToFileURL(join(dir, name))}`)
  return { values: JSON.parse(result.stdout) as Record<string, unknown>, stripped }
}

describe('importModule of TypeScript', () => {
  it('runs a file without type syntax as it is, and strips the types of the others', async () => {
    const { values, stripped } = await importAll({
      'plain.ts': "const store = 'main'\nexport default { store, up: async ({ store }) => store.length }\n",
      'typed.ts': 'const add = (a: number, b: number): number => a + b\nexport default add(1, 2)\n',
      'mapped.mts': 'export default [1, 2].map((n) => n * 2)\n',
    })
    expect(values).toEqual({ 'plain.ts': { store: 'main' }, 'typed.ts': 3, 'mapped.mts': [2, 4] })
    expect([stripped('plain.ts'), stripped('typed.ts'), stripped('mapped.mts')]).toEqual([false, true, false])
  })

  it('strips a generic call, which JavaScript would read as two comparisons', async () => {
    // as JavaScript, `pick<typeof b>(a)` is `(pick < b) > a`: false
    const { values, stripped } = await importAll({
      'generic.ts': 'const pick = (x: unknown) => x\nconst a = 2\nconst b = 1\nexport default pick<typeof b>(a)\n',
      'no-types.ts': 'const pick = (x) => x\nconst a = 2\nconst b = 1\nexport default pick<b>(a)\n',
    })
    expect(values).toEqual({ 'generic.ts': 2, 'no-types.ts': 2 })
    expect(stripped('no-types.ts')).toBe(true)
  })
})
