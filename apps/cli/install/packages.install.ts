// What the registry holds after `changeset publish`, and what installing parts of it brings:
// the tarballs, @flux/cli alone, and @flux/core/testing without vitest.
import { execFileSync } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { inProject, userProject } from './user-project.ts'

const { url, published } = inject('registry')
const ADAPTERS = ['@flux/fs', '@flux/pg', '@flux/mongo', '@flux/redis', '@flux/s3']
/** Sources, tests and their configs: in the repository, never in a tarball. */
const NOT_SHIPPED = /^package\/(src|test|faults|install)\/|\.test\.|\/tsconfig[^/]*\.json$|\/vitest\.[^/]*config\.ts$/

interface Release {
  dist: { tarball: string }
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}
const packument = async (name: string): Promise<{ versions?: Record<string, Release> }> =>
  (await fetch(new URL(name.replace('/', '%2f'), url))).json() as Promise<{ versions?: Record<string, Release> }>

const downloads = mkdtemp(join(tmpdir(), 'flux-tarballs-'))
afterAll(async () => rm(await downloads, { recursive: true, force: true }))

describe('the published packages', () => {
  it('are every package of the workspace but the private ones', () => {
    expect(Object.keys(published).sort()).toEqual(['@flux/cli', '@flux/core', '@flux/import', ...ADAPTERS].sort())
  })

  for (const [name, version] of Object.entries(published)) {
    it(`${name}@${version}: README.md, LICENSE and the build, no sources or tests, no workspace: ranges`, async () => {
      const release = (await packument(name)).versions?.[version]
      if (!release) throw new Error(`${name}@${version} is not on ${url}`)
      const tarball = join(await downloads, `${name.replace('/', '-')}-${version}.tgz`)
      await writeFile(tarball, Buffer.from(await (await fetch(release.dist.tarball)).arrayBuffer()))
      const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort()

      expect(files).toEqual(expect.arrayContaining(['package/README.md', 'package/LICENSE', 'package/package.json']))
      expect(files).toContain(name === '@flux/cli' ? 'package/dist/main.js' : 'package/dist/index.js')
      if (name !== '@flux/cli') expect(files).toContain('package/dist/index.d.ts')
      expect(files.filter((file) => NOT_SHIPPED.test(file))).toEqual([])
      const ranges = JSON.stringify({ ...release.dependencies, ...release.peerDependencies })
      expect(ranges).not.toContain('workspace:')
    })
  }

  it('@flux/cli depends on @flux/core and @flux/import (loaded only by `flux import`), on no adapter', async () => {
    const release = (await packument('@flux/cli')).versions?.[published['@flux/cli']!]
    if (!release) throw new Error(`@flux/cli@${published['@flux/cli']} is not on ${url}`)
    expect(Object.keys({ ...release.dependencies, ...release.peerDependencies }).sort()).toEqual([
      '@flux/core',
      '@flux/import',
    ])
  })
})

describe('installing parts of flux', () => {
  it('@flux/cli alone brings @flux/core, @flux/import and no adapter, and runs', async () => {
    const project = await userProject('cli-alone')
    const install = await inProject(project, 'npm', ['install', '-D', '@flux/cli'])
    expect(install.code, install.stderr).toBe(0)
    expect((await readdir(join(project.dir, 'node_modules', '@flux'))).sort()).toEqual(['cli', 'core', 'import'])
    const help = await inProject(project, 'npx', ['flux', '--help'])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toContain('Usage: flux <command>')
  })

  it('@flux/core/testing without vitest says what it needs and how to install it', async () => {
    const project = await userProject('testing-without-vitest')
    const install = await inProject(project, 'npm', ['install', '-D', '@flux/core'])
    expect(install.code, install.stderr).toBe(0)
    await writeFile(join(project.dir, 'check.mjs'), "await import('@flux/core/testing')\n")
    const imported = await inProject(project, process.execPath, ['check.mjs'])
    expect(imported.code).toBe(1)
    expect(imported.stderr).toContain('@flux/core/testing needs vitest, which is not installed in this project')
    expect(imported.stderr).toContain('npm install -D vitest')
  })
})
