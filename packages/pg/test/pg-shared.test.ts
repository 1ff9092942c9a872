import { afterEach, expect, it } from 'vitest'
import type { PgClient } from '../src/index.ts'
import { pgStore } from '../src/index.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

type Store = ReturnType<typeof pgStore>

describeWithServer("a fleet's members, opened with one shared map", (url) => {
  const schemas: string[] = []
  const stores: Store[] = []
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close().catch(() => {})
    for (const schema of schemas.splice(0)) await adminPool(url).query(`drop schema if exists "${schema}" cascade`)
  })

  /** Members' schemas, made ahead: a fleet's worker opens the next member as soon as it closed one. */
  const makeSchemas = async (count: number) => {
    const made = Array.from({ length: count }, randomSchema)
    schemas.push(...made)
    for (const schema of made) await adminPool(url).query(`create schema "${schema}"`)
    return made
  }
  /** A member: a store whose ledger and unqualified names are in its schema. */
  const open = async (schema: string, shared: Map<string, unknown> | undefined) => {
    const store = pgStore({ url, schema, searchPath: schema })
    stores.push(store)
    await store.open({ leaseLikely: false, ...(shared ? { shared } : {}) })
    return store
  }
  const inTransaction = <T>(store: Store, body: (client: PgClient) => Promise<T>) =>
    store.transaction!((client) => body(client))
  const backend = (store: Store) =>
    inTransaction(
      store,
      async (client) => (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid,
    )
  const tableIn = async (schema: string, table: string) =>
    (await adminPool(url).query('select 1 from pg_tables where schemaname = $1 and tablename = $2', [schema, table]))
      .rowCount

  it("share the server's sessions, and each member sees a session as its own", async () => {
    const shared = new Map<string, unknown>()
    const [first, second] = await makeSchemas(2)
    const a = await open(first!, shared)
    // what a's migration leaves in its session: a search path, a setting, a temporary table
    const pidA = await inTransaction(a, async (client) => {
      await client.query('set search_path to public; set statement_timeout = 1234; create temp table scratch (x int)')
      return (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid
    })
    await a.close()

    const b = await open(second!, shared)
    const seen = await inTransaction(b, async (client) => {
      await client.query('create table hotel (id int primary key)')
      const { rows } = await client.query<{ pid: number; path: string; timeout: string; scratch: string | null }>(
        `select pg_backend_pid() as pid, current_setting('search_path') as path,
                current_setting('statement_timeout') as timeout, to_regclass('pg_temp.scratch')::text as scratch`,
      )
      return rows[0]!
    })
    // the session a had (else this test shows nothing), reset for b
    expect(seen).toEqual({ pid: pidA, path: second, timeout: '0', scratch: null })
    expect(await tableIn(second!, 'hotel')).toBe(1)
    expect(await tableIn(first!, 'hotel')).toBe(0)
    // outside a transaction too (a migration that runs without one)
    await b.client().query('create table room (id int primary key)')
    expect(await tableIn(second!, 'room')).toBe(1)
    // and each member's ledger is its own
    expect(await b.ledger.read()).toEqual([])
  })

  it('a member keeps its session while open; stores opened without the map have their own', async () => {
    const shared = new Map<string, unknown>()
    const [first, second, third] = await makeSchemas(3)
    const a = await open(first!, shared)
    const b = await open(second!, shared)
    const alone = await open(third!, undefined)
    const pidA = await backend(a)
    const pidB = await backend(b)
    expect(await backend(a)).toBe(pidA)
    expect(await backend(b)).toBe(pidB)
    expect(pidB).not.toBe(pidA)
    expect([pidA, pidB]).not.toContain(await backend(alone))
  })

  it("a member's lease is held on a session the next member takes again once its lock is freed; other runners are kept out as ever", async () => {
    const shared = new Map<string, unknown>()
    const [first, second] = await makeSchemas(2)
    const holder = (runId: string) => ({ host: 'test', pid: process.pid, runId, since: new Date().toISOString() })
    const take = (store: Store, runId: string) =>
      store.acquire({ store: 'tenants', ttlMs: 30_000, waitMs: 0, holder: holder(runId) })
    const lockSession = async (schema: string) =>
      (await adminPool(url).query<{ pid: number }>(`select backend_pid as pid from "${schema}".flux_ledger_lock`))
        .rows[0]?.pid
    const advisoryLocks = async (pid: number) =>
      (await adminPool(url).query(`select 1 from pg_locks where pid = $1 and locktype = 'advisory'`, [pid])).rowCount

    const a = await open(first!, shared)
    const leaseA = await take(a, 'a')
    const pid = (await lockSession(first!))!
    expect(await advisoryLocks(pid)).toBe(1)
    await leaseA.release()
    await a.close()
    expect(await advisoryLocks(pid)).toBe(0)

    const b = await open(second!, shared)
    const leaseB = await take(b, 'b')
    expect(await lockSession(second!)).toBe(pid)
    // another runner (its own map) on the same member waits its turn
    const other = await open(second!, new Map())
    await expect(take(other, 'other')).rejects.toMatchObject({ code: 'LEASE_TIMEOUT' })
    await leaseB.release()
    await (await take(other, 'other')).release()
  })

  it('end their sessions once the last of them is closed', async () => {
    const shared = new Map<string, unknown>()
    const [first, second] = await makeSchemas(2)
    const a = await open(first!, shared)
    const pid = await backend(a)
    await a.close()
    const b = await open(second!, shared)
    expect(await backend(b)).toBe(pid)
    await b.close()
    const deadline = Date.now() + 5_000
    let alive = 1
    while (alive > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      alive = (await adminPool(url).query('select 1 from pg_stat_activity where pid = $1', [pid])).rowCount ?? 0
    }
    expect(alive).toBe(0)
    expect(shared.size).toBe(0)
  })
})
