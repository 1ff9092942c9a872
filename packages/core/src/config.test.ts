import { describe, expect, it } from 'vitest'
import { validateConfig } from './config.ts'
import { FluxError } from './errors.ts'
import { fleet } from './fleet/fleet.ts'

const store = {
  specVersion: 'v1',
  kind: 'fs',
  open: async () => {},
  close: async () => {},
  describe: () => 'fs /x',
  client: () => ({}),
  acquire: async () => ({}),
  inspectLease: async () => undefined,
  breakLease: async () => undefined,
  ledger: { read: async () => [], record: async () => {}, remove: async () => {} },
}

function messageOf(value: unknown): string {
  try {
    validateConfig(value, 'flux.config.ts')
  } catch (error) {
    if (FluxError.is(error) && error.code === 'CONFIG_INVALID') return error.message
    throw error
  }
  throw new Error('expected CONFIG_INVALID')
}

describe('validateConfig', () => {
  it('applies defaults', () => {
    const config = validateConfig({ stores: { files: store } }, 'flux.config.ts')
    expect(config.migrations).toBe('./migrations')
    expect(config.name).toBe('app')
  })

  it('names the bad key and what was expected', () => {
    expect(messageOf(undefined)).toContain('`default export` must be an object made with defineConfig')
    expect(messageOf({})).toContain('`stores` must be an object of named stores')
    expect(messageOf({ stores: { files: { root: './x' } } })).toContain(
      "`stores.files` must be a store made by an adapter's factory",
    )
    expect(messageOf({ stores: {}, migration: './m' })).toContain('`migration` must be one of the known keys')
    expect(messageOf({ stores: { '1x': store } })).toContain('`stores.1x` must be named with letters')
    expect(messageOf({ stores: {}, lease: { ttlMs: -1 } })).toContain('`lease.ttlMs` must be a number of milliseconds')
    expect(messageOf({ stores: { files: { ...store, specVersion: 'v9' } } })).toContain('contract v1')
    const tenants = (board: string) => fleet({ members: () => [], store: () => store as never, board })
    expect(messageOf({ stores: { files: store, tenants: tenants('catalog') } })).toContain(
      '`stores.tenants` must be a fleet whose board is one of the other stores (files), got "catalog"',
    )
    expect(messageOf({ stores: { files: store, tenants: tenants('tenants') } })).toContain(
      'board is one of the other stores',
    )
    expect(
      validateConfig({ stores: { files: store, tenants: tenants('files') } }, 'flux.config.ts').fleets,
    ).toHaveProperty('tenants')
  })

  it('refuses a config without stores, showing a store line', () => {
    for (const config of [{ stores: {} }, { stores: {}, retired: ['old'] }]) {
      try {
        validateConfig(config, 'flux.config.ts')
        expect.unreachable('an empty `stores` was accepted')
      } catch (error) {
        if (!FluxError.is(error)) throw error
        expect(error.code).toBe('CONFIG_INVALID')
        expect(error.message).toBe('flux.config.ts: `stores` is empty; flux needs at least one store to migrate')
        expect(error.hint).toContain("stores: { files: fsStore({ root: './var/files' }) }")
      }
    }
  })
})
