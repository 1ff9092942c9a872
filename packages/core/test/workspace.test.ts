import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

// Walks packages/*: what every published package and every adapter promises (STYLE.md 21, 24, 26).
const packagesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const packages = readdirSync(packagesDir).filter((name) => !name.startsWith('.'))
const read = (file: string) => readFileSync(join(packagesDir, file), 'utf8')
const manifest = (name: string) => JSON.parse(read(`${name}/package.json`))

describe.each(packages)('packages/%s', (name) => {
  const pkg = manifest(name)

  it('is the ESM package @flux/<folder> with an exports map, dist files and no side effects', () => {
    expect(pkg.name).toBe(`@flux/${name}`)
    expect(pkg.type).toBe('module')
    expect(pkg.sideEffects).toBe(false)
    expect(pkg.files).toEqual(['dist'])
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(['.', './package.json']))
  })

  if (name === 'core') {
    it('depends on no database driver', () => {
      expect(Object.keys(pkg.dependencies ?? {})).toEqual(['jiti'])
    })
    return
  }

  it('takes @flux/core as a peer and a dev dependency', () => {
    expect(pkg.peerDependencies?.['@flux/core']).toBe('workspace:^')
    expect(pkg.devDependencies?.['@flux/core']).toBe('workspace:^')
    expect(pkg.dependencies?.['@flux/core']).toBeUndefined()
  })

  it('exports one factory, <name>Store, and runs the conformance suite', () => {
    expect(read(`${name}/src/index.ts`)).toMatch(new RegExp(`export \\{[^}]*\\b${name}Store\\b`))
    expect(read(`${name}/test/conformance.test.ts`)).toContain('describeAdapterConformance(')
  })
})
