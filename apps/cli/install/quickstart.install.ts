// The README's "Using flux in a project", run verbatim from README.md in fresh folders outside
// the workspace, with the packages installed from the local registry (see registry-setup.ts):
// once per adapter with only that adapter installed, and once in a CommonJS project.
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { quickstartFor, readQuickstart } from './readme.ts'
import { ROOT } from './run.ts'
import { SERVER_VARIABLES, type StoreRun, storeRun, WRITTEN } from './stores.ts'
import { inProject, type QuickstartRun, runQuickstart, type UserProject, userProject } from './user-project.ts'

const quickstart = readQuickstart()
const ADAPTERS = ['@flux/fs', '@flux/pg', '@flux/mongo', '@flux/redis', '@flux/s3']

describe.concurrent('the README quickstart, from the registry', () => {
  it('lists a row for every adapter, each with the variables its config reads', () => {
    expect([...quickstart.adapters.keys()].sort()).toEqual([...ADAPTERS].sort())
    for (const adapter of ADAPTERS.filter((name) => name !== '@flux/fs')) {
      expect(quickstart.adapters.get(adapter)!.variables.length, adapter).toBeGreaterThan(0)
    }
  })

  for (const adapter of ADAPTERS) {
    const server = SERVER_VARIABLES[adapter]
    const missing = server && !process.env[server]
    // without its test server the run cannot happen: under CI that is a failure, elsewhere a skip
    const test = missing && !(process.env.CI && process.env.CI !== 'false') ? it.skip : it
    test(`${adapter}: as written, with only ${adapter} installed`, async () => {
      if (missing) throw new Error(`${server} is not set: start the test servers (scripts/services start)`)
      const store = await storeRun(adapter)
      try {
        const row = quickstart.adapters.get(adapter)!
        // every variable the table says the config reads is set, to this run's place on the server
        expect(Object.keys(store.env)).toEqual(expect.arrayContaining(row.variables))
        const project = await userProject(adapter.replace('@flux/', 'quickstart-'))
        const lines = adapter === '@flux/fs' ? quickstart.commands : quickstartFor(quickstart, adapter)
        const result = await runQuickstart(project, lines, store, store.env)
        await expectApplied(result, store, project.dir)
        await expectTypeScriptCompiles(project)
        const installed = await readdir(join(project.dir, 'node_modules', '@flux'))
        // @flux/import comes with the CLI (loaded only by `flux import`)
        expect(installed.sort()).toEqual(['cli', 'core', 'import', adapter.replace('@flux/', '')].sort())
      } finally {
        await store.cleanup()
      }
    })
  }

  it('@flux/fs in a CommonJS project made by `npm init -y`', async () => {
    const project = await userProject('commonjs')
    const init = await inProject(project, 'npm', ['init', '-y'])
    expect(init.code, init.stderr).toBe(0)
    const manifest = JSON.parse(await readFile(join(project.dir, 'package.json'), 'utf8'))
    expect(manifest.type ?? 'commonjs').toBe('commonjs')
    const store = await storeRun('@flux/fs')
    const result = await runQuickstart(project, quickstart.commands, store)
    // the transcript a user sees, for the record
    console.log(
      `the quickstart in a CommonJS project (${project.dir}):\n$ npm init -y\n${init.stdout}${result.transcript}`,
    )
    await expectApplied(result, store, project.dir)
    await expectTypeScriptCompiles(project)
  })
})

/** The migration's change is in the store, and `flux up` and `flux status` say it is applied. */
async function expectApplied(result: QuickstartRun, store: StoreRun, dir: string): Promise<void> {
  const id = `app/${result.migration.replace(/^migrations\//, '').replace(/\.[cm]?[jt]s$/, '')}`
  const output = (command: string) => {
    const found = [...result.results].find(([line]) => line === command)
    if (!found) throw new Error(`the quickstart has no \`${command}\``)
    return found[1].stdout
  }
  expect(output('npx flux up')).toContain(`applied  ${id}`)
  expect(output('npx flux status')).toMatch(new RegExp(`applied\\s+${id.replace('/', '\\/')}\\b`))
  expect(await store.written(dir)).toBe(WRITTEN)
}

/**
 * The project's config and migration compile, strictly and with the packages' declarations
 * checked too (no `skipLibCheck`): every type they import comes with the packages (TS7016
 * otherwise, as `@flux/pg` without `@types/pg` gave). The workspace's TypeScript and Node types.
 */
async function expectTypeScriptCompiles(project: UserProject): Promise<void> {
  const versions = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')).devDependencies
  const install = await inProject(project, 'npm', [
    'install',
    '-D',
    `typescript@${versions.typescript}`,
    `@types/node@${versions['@types/node']}`,
  ])
  expect(install.code, install.stderr).toBe(0)
  const compilerOptions = { module: 'nodenext', target: 'es2022', strict: true, noEmit: true, types: ['node'] }
  await writeFile(
    join(project.dir, 'tsconfig.json'),
    JSON.stringify({ compilerOptions, include: ['flux.config.ts', 'migrations'] }),
  )
  const compiled = await inProject(project, 'npx', ['tsc', '-p', '.'])
  expect(compiled.code, `tsc in ${project.dir}:\n${compiled.stdout}${compiled.stderr}`).toBe(0)
}
