import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
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
    expect(Object.keys(pkg.exports)).toEqual(expect.arrayContaining(['.', './package.json']))
  })

  it('publishes its dist, README.md and LICENSE, publicly, and says which Node it needs', () => {
    expect(pkg.files).toEqual(['dist', 'README.md', 'LICENSE'])
    expect(existsSync(join(packagesDir, name, 'README.md'))).toBe(true)
    expect(read(`${name}/LICENSE`)).toBe(read('../LICENSE'))
    expect(pkg.publishConfig).toEqual({ access: 'public' })
    expect(pkg.engines.node).toMatch(/^>=22\.12/)
    expect(pkg.types).toBe(pkg.exports['.'].types)
  })

  // a user's project compiles against the declarations: a package they import must come with
  // this one, and its types too (TS7016 in the user's project otherwise)
  it('depends on every package its declarations import, and on their types', () => {
    const declared = { ...pkg.dependencies, ...pkg.peerDependencies }
    const require = createRequire(join(packagesDir, name, 'package.json'))
    for (const file of declarations(join(packagesDir, name, 'dist'))) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(
        /^(?:import|export)\b[^'\n]*from '([^'.][^']*)'/gm,
      )) {
        if (specifier!.startsWith('node:')) continue
        const dependency = specifier!
          .split('/')
          .slice(0, specifier!.startsWith('@') ? 2 : 1)
          .join('/')
        if (dependency === pkg.name) continue
        expect(declared, `${file} imports ${dependency}`).toHaveProperty([dependency])
        const manifest = manifestOf(require, dependency)
        const own = JSON.parse(readFileSync(manifest, 'utf8'))
        // TypeScript also finds the declarations beside the entry point (kysely's dist/index.d.ts)
        const beside = join(dirname(manifest), String(own.main ?? 'index.js').replace(/\.c?js$/, '.d.ts'))
        if (
          !own.types &&
          !own.typings &&
          !JSON.stringify(own.exports ?? {}).includes('"types"') &&
          !existsSync(beside)
        ) {
          const types = `@types/${dependency.replace(/^@(.*)\/(.*)$/, '$1__$2')}`
          expect(declared, `${dependency} ships no types: ${types} must be a dependency`).toHaveProperty([types])
        }
      }
    }
  })

  if (name === 'core') {
    it('depends on no database driver', () => {
      expect(Object.keys(pkg.dependencies ?? {})).toEqual(['jiti'])
    })
    return
  }

  it('takes @flux/core as a peer and a dev dependency', () => {
    // any core 0.x: a minor of core must not force a major of every adapter (RELEASING.md)
    expect(pkg.peerDependencies?.['@flux/core']).toBe('workspace:>=0.1.0 <1.0.0')
    expect(pkg.devDependencies?.['@flux/core']).toBe('workspace:^')
    expect(pkg.dependencies?.['@flux/core']).toBeUndefined()
  })

  // @flux/import (importers of other tools' histories) is a tool, not an adapter: it has no store
  if (name === 'import') return

  it('exports one factory, <name>Store, and runs the conformance suite', () => {
    expect(read(`${name}/src/index.ts`)).toMatch(new RegExp(`export \\{[^}]*\\b${name}Store\\b`))
    expect(read(`${name}/test/conformance.test.ts`)).toContain('describeAdapterConformance(')
  })
})

function declarations(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => file.endsWith('.d.ts'))
    .map((file) => join(dir, file))
}

/**
 * The package.json of `dependency` as `require` finds it: through its exports when they give
 * it, else above its entry point (kysely's exports give only its entry).
 */
function manifestOf(require: NodeJS.Require, dependency: string): string {
  try {
    return require.resolve(`${dependency}/package.json`)
  } catch {
    const paths = require.resolve.paths(dependency) ?? []
    for (const folder of paths) {
      const manifest = join(folder, dependency, 'package.json')
      if (existsSync(manifest)) return manifest
    }
    throw new Error(`${dependency}: no package.json found`)
  }
}
