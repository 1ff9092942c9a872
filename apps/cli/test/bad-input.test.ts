import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { countingMigration, effects, flux, project } from './helpers.ts'

const ok = countingMigration

/** Runs `flux up` and checks the common promises: exit code, a short error naming the file, no stack, nothing changed. */
async function expectRefused(dir: string, code: number, ...fragments: string[]) {
  const result = await flux(['up'], dir)
  expect(result.code, result.stderr).toBe(code)
  for (const fragment of fragments) expect(result.stderr).toContain(fragment)
  expect(result.stderr).toMatch(/^error: /)
  expect(result.stderr).toContain('hint:')
  expect(result.stderr).not.toMatch(/^\s+at /m)
  expect(result.stderr.split('\n').length).toBeLessThanOrEqual(4)
  expect(await effects(dir)).toEqual([])
  expect(await readdir(join(dir, 'var')).catch(() => [])).toEqual([])
  const debug = await flux(['up', '--debug'], dir)
  expect(debug.stderr).toMatch(/^\s+at /m)
  return result
}

describe('bad input is refused before anything runs', () => {
  it('a cycle, with its path', async () => {
    const dir = await project({
      '001_a.ts': ok('001_a').replace("store: 'files',", "store: 'files', parents: ['002_b'],"),
      '002_b.ts': ok('002_b'),
    })
    await expectRefused(dir, 2, 'cycle in the migration graph: app/00', ' → ', 'migrations/')
  })

  it('an unknown parent', async () => {
    const dir = await project({
      '001_a.ts': ok('001_a'),
      '002_b.ts': ok('002_b').replace("store: 'files',", "store: 'files', parents: ['000_nope'],"),
    })
    await expectRefused(dir, 2, 'migrations/002_b.ts: unknown parent "app/000_nope"')
  })

  it('a duplicate id', async () => {
    const dir = await project({ '001_a.ts': ok('001_a'), '001_a.mjs': ok('001_a') })
    await expectRefused(dir, 2, 'duplicate migration id "app/001_a": migrations/001_a.mjs and migrations/001_a.ts')
  })

  it('an unknown store', async () => {
    const dir = await project({ '001_a.ts': ok('001_a').replace("store: 'files'", "store: 'photos'") })
    await expectRefused(dir, 2, 'migrations/001_a.ts: unknown store "photos"', 'files')
  })

  it('a syntax error in a migration file', async () => {
    const dir = await project({
      '001_a.ts': ok('001_a'),
      '002_b.ts': 'export default defineMigration({ store: "files", up( {\n',
    })
    await expectRefused(dir, 2, 'migrations/002_b.ts could not be loaded')
  })

  it('a malformed config', async () => {
    const dir = await project({ '001_a.ts': ok('001_a') })
    await writeFile(join(dir, 'flux.config.ts'), "export default { stores: { files: { root: './var' } } }\n")
    await expectRefused(dir, 2, "flux.config.ts: `stores.files` must be a store made by an adapter's factory")
    await writeFile(join(dir, 'flux.config.ts'), 'export default {{\n')
    await expectRefused(dir, 2, 'flux.config.ts could not be loaded')
  })

  it('a missing config', async () => {
    const dir = await project({})
    await writeFile(join(dir, 'flux.config.ts'), '')
    const { rm } = await import('node:fs/promises')
    await rm(join(dir, 'flux.config.ts'))
    const result = await flux(['status'], dir)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('no flux.config.ts')
    expect(result.stderr).toContain('flux init')
  })
})

describe('a migration that throws', () => {
  it('exits 1 naming the migration and file; earlier steps stay applied, it stays pending', async () => {
    const dir = await project({
      '001_a.ts': ok('001_a'),
      '002_boom.ts': ok('002_boom', "throw new Error('hotel table is locked')"),
      '003_c.ts': ok('003_c'),
    })
    const result = await flux(['up', '--json'], dir)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('error: migration app/002_boom failed (up): hotel table is locked')
    expect(result.stderr).toContain('migrations/002_boom.ts')
    const report = JSON.parse(result.stdout)
    expect(report.steps.map((step: { id: string; status: string }) => [step.id, step.status])).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_boom', 'failed'],
      ['app/003_c', 'skipped'],
    ])
    expect(report.error.code).toBe('MIGRATION_FAILED')
    expect(await effects(dir)).toEqual(['001_a'])
    const status = JSON.parse((await flux(['status', '--json'], dir)).stdout)
    expect(status.migrations.map((row: { status: string }) => row.status)).toEqual(['applied', 'pending', 'pending'])
  })
})
