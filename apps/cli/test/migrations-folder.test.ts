import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { countingMigration, effects, emptyProject, exists, flux, project, statusJson } from './helpers.ts'

/** A project whose config sets `migrations` to `folder`, which is not created. */
async function projectWithout(folder: string): Promise<string> {
  const dir = await emptyProject()
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
export default defineConfig({
  stores: { files: fsStore({ root: './var/files' }) },
  migrations: '${folder}',
})
`,
  )
  return dir
}

/** Nothing ran and nothing was written in the store: no ledger, no lease file, no effect. */
async function expectUntouched(dir: string) {
  expect(await effects(dir)).toEqual([])
  expect(await readdir(join(dir, 'var')).catch(() => [])).toEqual([])
}

describe('a migrations folder that does not exist', () => {
  it('is a configuration error (exit 2) naming the folder and the config file, for every command that reads it', async () => {
    const dir = await projectWithout('./db/migrations')
    for (const command of [['status'], ['up'], ['plan'], ['verify'], ['down', '--steps', '1'], ['sum'], ['heads']]) {
      const result = await flux(command, dir)
      expect(result.code, `flux ${command.join(' ')}: ${result.stderr}`).toBe(2)
      expect(result.stderr).toContain('error: flux.config.ts: migrations folder db/migrations/ does not exist')
      expect(result.stderr).toContain('hint: create it (`mkdir -p db/migrations`')
      expect(result.stderr).toContain('fix `migrations` in flux.config.ts')
      expect(result.stdout).not.toContain('nothing to apply')
    }
    const json = await flux(['up', '--json'], dir)
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      error: { code: 'CONFIG_INVALID', file: 'flux.config.ts', details: { key: 'migrations', path: 'db/migrations' } },
    })
    await expectUntouched(dir)
    expect(await exists(join(dir, 'db'))).toBe(false)
  })

  it('is named by its absolute path when it lies outside the project folder', async () => {
    const outside = join(await emptyProject(), 'nowhere')
    const dir = await projectWithout(outside)
    const result = await flux(['status'], dir)
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`migrations folder ${outside}/ does not exist`)
  })

  it('is created by `flux new`, which writes the first migration in it; then `up` runs it', async () => {
    const dir = await projectWithout('./db/migrations')
    const created = await flux(['new', 'first'], dir)
    expect(created.code, created.stderr).toBe(0)
    expect(created.stdout).toContain('created db/migrations/\n')
    const files = await readdir(join(dir, 'db/migrations'))
    expect(files).toEqual([expect.stringMatching(/^\d{14}_first\.ts$/), 'flux.sum'])
    expect(created.stdout).toContain(`created db/migrations/${files[0]}`)
    expect((await flux(['verify'], dir)).code).toBe(0)
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(up.stdout).toContain('1 applied')
    const second = await flux(['new', 'second'], dir)
    expect(second.stdout).not.toContain('created db/migrations/\n')
  })

  it('of a component package is a configuration error naming the package and the folder', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    await writeFile(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'site', private: true, dependencies: { '@acme/blobs': '1.0.0' } }),
    )
    const installed = join(dir, 'node_modules/@acme/blobs')
    await mkdir(installed, { recursive: true })
    await writeFile(
      join(installed, 'package.json'),
      JSON.stringify({ name: '@acme/blobs', version: '1.0.0', flux: { migrations: './db' } }),
    )
    for (const command of ['status', 'up', 'plan', 'verify']) {
      const result = await flux([command], dir)
      expect(result.code, `flux ${command}: ${result.stderr}`).toBe(2)
      expect(result.stderr).toContain(
        'error: component @acme/blobs: the migrations folder its package.json declares, node_modules/@acme/blobs/db/, does not exist',
      )
      expect(result.stderr).toContain('hint: reinstall @acme/blobs')
    }
    await expectUntouched(dir)
    // the package's folder present, even empty: the application's migrations run
    await mkdir(join(installed, 'db'))
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(await effects(dir)).toEqual(['001_a'])
  })
})

describe('`up` and `down` check flux.sum', () => {
  it('up refuses a folder that no longer matches its flux.sum (exit 3) before importing any migration; `flux sum` accepts the change', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    expect((await flux(['sum'], dir)).code).toBe(0)
    const file = join(dir, 'migrations/001_a.ts')
    // the edit runs code when the file is imported: refused before that
    await writeFile(file, `${await readFile(file, 'utf8')}appendFileSync('effects.log', 'imported\\n')\n`)
    const refused = await flux(['up'], dir)
    expect(refused.code, refused.stderr).toBe(3)
    expect(refused.stderr).toContain(
      'error: migrations folder migrations/ does not match its flux.sum: migrations/001_a.ts changed since migrations/flux.sum was written',
    )
    expect(refused.stderr).toContain('hint: review the change, then run `flux sum` to accept it, or restore the files')
    await expectUntouched(dir)

    const json = await flux(['up', '--json'], dir)
    expect(json.code).toBe(3)
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      error: { code: 'SUM_MISMATCH', file: 'migrations/001_a.ts', details: { folders: ['migrations/'] } },
    })

    // plan shows the steps and the mismatch, and exits 3 as for its other integrity problems;
    // it reads the migrations (their import runs the edit), but applies nothing
    const plan = await flux(['plan'], dir)
    expect(plan.code).toBe(3)
    expect(plan.stdout).toContain('apply    app/001_a')
    expect(plan.stdout).toMatch(/flux\.sum +migrations\/001_a\.ts changed since migrations\/flux\.sum was written/)
    expect(JSON.parse((await flux(['plan', '--json'], dir)).stdout).sums).toEqual([
      { file: 'migrations/001_a.ts', message: 'migrations/001_a.ts changed since migrations/flux.sum was written' },
    ])
    expect(await effects(dir)).toEqual(['imported', 'imported'])
    expect(await readdir(join(dir, 'var')).catch(() => [])).toEqual([])

    expect((await flux(['sum'], dir)).code).toBe(0)
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect((await effects(dir)).filter((line) => line !== 'imported')).toEqual(['001_a'])
    expect((await flux(['plan'], dir)).code).toBe(0)
  })

  it('up refuses a file added without `flux sum`, and one removed, naming each', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a'), '002_b.ts': countingMigration('002_b') })
    expect((await flux(['sum'], dir)).code).toBe(0)
    await writeFile(join(dir, 'migrations/003_c.ts'), countingMigration('003_c'))
    await rm(join(dir, 'migrations/002_b.ts'))
    const refused = await flux(['up'], dir)
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('migrations/003_c.ts is not in migrations/flux.sum')
    expect(refused.stderr).toContain('migrations/002_b.ts is in migrations/flux.sum but the file is gone')
    await expectUntouched(dir)
  })

  it('down refuses too, and leaves what is applied applied', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    expect((await flux(['sum'], dir)).code).toBe(0)
    expect((await flux(['up'], dir)).code).toBe(0)
    const file = join(dir, 'migrations/001_a.ts')
    await writeFile(file, (await readFile(file, 'utf8')).replace('await store.delete', 'await store.put'))
    const refused = await flux(['down', 'base'], dir)
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('migrations/001_a.ts changed since migrations/flux.sum was written')
    expect(await exists(join(dir, 'var/files/001_a.txt'))).toBe(true)
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['drift'])
  })

  it('a folder without flux.sum is not checked', async () => {
    const dir = await project({ '001_a.ts': countingMigration('001_a') })
    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(await effects(dir)).toEqual(['001_a'])
  })
})
