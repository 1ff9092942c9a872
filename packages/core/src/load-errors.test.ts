import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { configLoadError, type UnsetVariable, watchingEnvironment } from './config-errors.ts'
import { FluxError } from './errors.ts'
import { installCommand, locationOf, missingModuleOf, projectFrame, withImporter } from './load-errors.ts'

const folders: string[] = []
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
})

function folder(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'flux-load-errors-'))
  folders.push(dir)
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text)
  return dir
}

function withStack<T extends Error>(error: T, stack: string): T {
  error.stack = stack
  return error
}

describe('locationOf', () => {
  it("reads a TypeScript syntax error's place from Node's stack, with the caret's column when there is one", () => {
    const caret = withStack(
      new SyntaxError('Expression expected'),
      '/app/migrations/001_a.ts:4\n  up() { return 1 +* 2 },\n                   ^\n\nSyntaxError: Expression expected',
    )
    expect(locationOf(caret, '/app', '/app')).toBe('migrations/001_a.ts:4:20')
    const line = withStack(new SyntaxError("Expected ','"), "/app/flux.config.ts:4\n}\n\nSyntaxError: Expected ','")
    expect(locationOf(line, '/app', '/app')).toBe('flux.config.ts:4')
  })

  it('finds a JavaScript syntax error, which Node leaves without a place, by checking the file', () => {
    const dir = folder({ 'a.mjs': "import x from 'y'\nexport default {\n  up() { return 1 +* 2 },\n}\n" })
    const error = withStack(new SyntaxError("Unexpected token '*'"), "SyntaxError: Unexpected token '*'\n    at x")
    expect(locationOf(error, dir, dir, join(dir, 'a.mjs'))).toBe('a.mjs:3:20')
  })

  it('takes the first frame of the cause chain inside the project, outside its node_modules', () => {
    const cause = withStack(
      new Error('no room'),
      [
        'Error: no room',
        '    at put (file:///app/node_modules/@flux/fs/dist/index.js:10:3)',
        '    at Object.up (file:///app/migrations/002_b.ts:6:11)',
      ].join('\n'),
    )
    const wrapped = withStack(
      new FluxError('MIGRATION_FAILED', 'migration app/002_b failed (up): no room', { cause }),
      'FluxError: …\n    at fail (file:///usr/lib/node_modules/@flux/cli/dist/x.js:1:1)',
    )
    expect(projectFrame(wrapped, '/app', '/app')).toBe('migrations/002_b.ts:6:11')
    expect(projectFrame(wrapped, '/elsewhere', '/elsewhere')).toBeUndefined()
  })
})

describe('missing modules', () => {
  const notFound = (message: string) =>
    Object.assign(new Error(message), { code: 'ERR_MODULE_NOT_FOUND' }) as NodeJS.ErrnoException

  it('tells a package from a local file, and who imports it', () => {
    expect(missingModuleOf(notFound("Cannot find package '@flux/pg' imported from /app/flux.config.ts"))).toEqual({
      missing: '@flux/pg',
      isPackage: true,
      importer: '/app/flux.config.ts',
    })
    expect(missingModuleOf(notFound("Cannot find package 'lodash/fp' imported from /app/a.ts"))?.missing).toBe('lodash')
    expect(
      missingModuleOf(notFound("Cannot find module '/app/migrations/helper.ts' imported from /app/migrations/a.ts")),
    ).toMatchObject({ missing: '/app/migrations/helper.ts', isPackage: false })
    expect(missingModuleOf(new Error("Cannot find package 'x'"))).toBeUndefined()
  })

  it("blames the loaded file when Node names the CLI's own resolution fallback as the importer", () => {
    const reported = { missing: '@flux/pg', isPackage: true, importer: '/usr/lib/node_modules/@flux/cli/dist/p.js' }
    expect(withImporter(reported, '/app/flux.config.ts', '/app').importer).toBe('/app/flux.config.ts')
    const driver = { missing: 'pg', isPackage: true, importer: '/app/node_modules/@flux/pg/dist/index.js' }
    expect(withImporter(driver, '/app/flux.config.ts', '/app')).toBe(driver)
  })

  it("installs with the project's package manager", () => {
    expect(installCommand(folder({ 'pnpm-lock.yaml': '' }), '@flux/pg')).toBe('pnpm add -D @flux/pg')
    expect(installCommand(folder({ 'yarn.lock': '' }), '@flux/pg')).toBe('yarn add -D @flux/pg')
    expect(installCommand(folder({ 'package-lock.json': '{}' }), '@flux/pg')).toBe('npm install -D @flux/pg')
  })
})

describe('config errors', () => {
  it('records the unset and empty variables the config reads, and restores process.env even when it throws', async () => {
    const real = process.env
    const unset: UnsetVariable[] = []
    process.env.FLUX_LOAD_ERRORS_EMPTY = ''
    await expect(
      watchingEnvironment(async () => {
        void process.env.FLUX_LOAD_ERRORS_UNSET
        void process.env.FLUX_LOAD_ERRORS_EMPTY
        void process.env.PATH
        throw new Error('config failed')
      }, unset),
    ).rejects.toThrow('config failed')
    delete process.env.FLUX_LOAD_ERRORS_EMPTY
    expect(process.env).toBe(real)
    expect(unset).toEqual([
      { name: 'FLUX_LOAD_ERRORS_UNSET', empty: false },
      { name: 'FLUX_LOAD_ERRORS_EMPTY', empty: true },
    ])
  })

  it('names the store whose factory refused a missing option, and the variable behind it', () => {
    const source = `import { pgStore } from '@flux/pg'
export default {
  stores: {
    images: pgStore({ pglite: './var/pg' }),
    catalog: pgStore({ url: process.env.DATABASE_URL ?? process.env.PG_URL }),
    orders: pgStore({ schema: process.env.ORDERS_SCHEMA ?? 'orders', url: process.env.ORDERS_URL }),
  },
}
`
    const dir = folder({ 'flux.config.ts': source })
    const configFile = join(dir, 'flux.config.ts')
    const refusal = withStack(
      new FluxError('CONFIG_INVALID', 'pgStore() needs exactly one of url, pool or pglite; got 0', {
        details: { missing: ['url', 'pool', 'pglite'] },
      }),
      `FluxError: x\n    at resolveSettings (file:///x/pg/dist/index.js:1:1)\n    at file://${configFile}:5:14`,
    )
    const context = { configFile, displayConfig: 'flux.config.ts', root: dir, cwd: dir }
    const named = configLoadError(refusal, {
      ...context,
      unset: [
        { name: 'HOME_NOT', empty: false },
        { name: 'DATABASE_URL', empty: false },
        { name: 'PG_URL', empty: false },
      ],
    })
    expect(named.message).toBe(
      'store "catalog": its url is not set: flux.config.ts reads environment variables DATABASE_URL, PG_URL, which are not set',
    )
    expect(named.store).toBe('catalog')
    expect(named.location).toBe('flux.config.ts:5:14')
    expect(named.hint).toBe('set it, e.g. export DATABASE_URL=postgres://user:password@localhost:5432/app')
    // of the variables the call reads, those of the missing option's value
    const orders = withStack(
      new FluxError('CONFIG_INVALID', refusal.message, { details: { missing: ['url', 'pool', 'pglite'] } }),
      `FluxError: x\n    at file://${configFile}:6:13`,
    )
    const ordersNamed = configLoadError(orders, {
      ...context,
      unset: [
        { name: 'ORDERS_SCHEMA', empty: false },
        { name: 'ORDERS_URL', empty: false },
      ],
    })
    expect(ordersNamed.message).toBe(
      'store "orders": its url is not set: flux.config.ts reads environment variable ORDERS_URL, which is not set',
    )
    expect(ordersNamed.hint).toBe('set it, e.g. export ORDERS_URL=postgres://user:password@localhost:5432/app')
    // no variable behind it: the adapter's own message, with the store's name
    expect(configLoadError(refusal, { ...context, unset: [] }).message).toBe(
      'store "catalog": pgStore() needs exactly one of url, pool or pglite; got 0',
    )
  })
})
