import { FluxError, unsetStoreError } from '@flux/core'
import { describe, expect, it } from 'vitest'
import { pgStore } from './pg-store.ts'

function configError(call: () => unknown): FluxError {
  try {
    call()
  } catch (error) {
    if (FluxError.is(error)) return error
    throw error
  }
  throw new Error('expected a FluxError')
}

describe('pgStore options', () => {
  it('refuses schema and table names that are not plain identifiers, so nothing can be injected', () => {
    for (const name of ['"; drop table x; --', 'a b', '1abc', '', 'a.b', 'a"b', 'x'.repeat(64), 'é']) {
      for (const key of ['schema', 'ledgerTable'] as const) {
        const error = configError(() => pgStore({ url: 'postgres://127.0.0.1/app', [key]: name }))
        expect(error.code).toBe('CONFIG_INVALID')
        expect(error.message).toContain(`invalid ${key}`)
      }
    }
    // room for the `_lock` suffix
    expect(configError(() => pgStore({ pglite: 'memory://', ledgerTable: 'x'.repeat(60) })).code).toBe('CONFIG_INVALID')
    expect(pgStore({ pglite: 'memory://', schema: 'App_2', ledgerTable: '_Ledger' }).kind).toBe('pg')
  })

  it('needs exactly one of url, pool and pglite, and a known lock mode', async () => {
    // none given (an unset DATABASE_URL): a store that says so when opened, and to loadProject
    expect(unsetStoreError(pgStore({}))?.message).toBe('pgStore() needs exactly one of url, pool or pglite; got 0')
    await expect(pgStore({}).open()).rejects.toThrow('needs exactly one of url, pool or pglite')
    expect(configError(() => pgStore({ url: 'postgres://a/b', pglite: 'memory://' })).code).toBe('CONFIG_INVALID')
    expect(unsetStoreError(pgStore({ url: '' }))?.code).toBe('CONFIG_INVALID')
    expect(configError(() => pgStore({ url: 'postgres://a/b', lock: 'file' as 'table' })).code).toBe('CONFIG_INVALID')
    expect(configError(() => pgStore({ pglite: 'memory://', lock: 'advisory' })).hint).toContain('re-entrant')
    expect(configError(() => pgStore({ url: 'postgres://a/b', durableEveryMs: -1 })).code).toBe('CONFIG_INVALID')
  })

  it('describes the target as host:port/database, never with the user or the password', () => {
    expect(pgStore({ url: 'postgres://flux:s%40cret@db.internal:6432/app?sslmode=require' }).describe()).toBe(
      'pg db.internal:6432/app',
    )
    expect(pgStore({ url: 'postgresql://user@127.0.0.1/app' }).describe()).toBe('pg 127.0.0.1:5432/app')
    expect(pgStore({ url: 'postgres:///app?host=/var/run/postgresql' }).describe()).toBe(
      'pg /var/run/postgresql:5432/app',
    )
    expect(pgStore({ url: 'not a url with secret' }).describe()).toBe('pg (unparsable connection string)')
    expect(pgStore({ pglite: './var/pg' }).describe()).toBe('pg pglite ./var/pg')
    expect(pgStore({ pglite: 'memory://' }).describe()).toBe('pg pglite memory://')
  })
})
