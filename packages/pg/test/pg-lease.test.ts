import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { FluxError } from '@flux/core'
import { afterEach, expect, it } from 'vitest'
import { pgStore } from '../src/index.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

const HOLDER = fileURLToPath(new URL('./fixtures/hold-lease.ts', import.meta.url))

describeWithServer('a runner that crashes while holding the lease', (url) => {
  const schemas: string[] = []
  afterEach(async () => {
    for (const schema of schemas.splice(0)) await adminPool(url).query(`drop schema if exists "${schema}" cascade`)
  })

  for (const [lock, why] of [
    ['advisory', 'its session ends with it, and the lock with the session'],
    ['table', 'its pid on this host is gone'],
  ] as const) {
    it(`lock ${lock}: frees the store at once, not after the lease's 60 s: ${why}`, async () => {
      const schema = randomSchema()
      schemas.push(schema)
      const child = spawn(process.execPath, [HOLDER, schema, lock], {
        cwd: fileURLToPath(new URL('..', import.meta.url)),
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const [line] = await once(child.stdout!, 'data')
      expect(String(line)).toBe('held\n')
      const adapter = pgStore({ url, schema, lock })
      await adapter.open()
      try {
        expect((await adapter.inspectLease())?.pid).toBe(child.pid)
        child.kill('SIGKILL')
        await once(child, 'exit')
        const started = Date.now()
        const holder = { host: 'test', pid: 1, runId: 'next', since: new Date().toISOString() }
        const lease = await adapter.acquire({ store: 'catalog', ttlMs: 60_000, waitMs: 10_000, holder })
        expect(Date.now() - started).toBeLessThan(10_000)
        expect((await adapter.inspectLease())?.runId).toBe('next')
        await lease.release()
      } finally {
        child.kill('SIGKILL')
        await adapter.close()
      }
    })
  }

  it('runners configured with different lock modes still exclude each other', async () => {
    const schema = randomSchema()
    schemas.push(schema)
    const advisory = pgStore({ url, schema, lock: 'advisory' })
    const table = pgStore({ url, schema, lock: 'table' })
    await Promise.all([advisory.open(), table.open()])
    const holder = (runId: string) => ({ host: 'test', pid: 1, runId, since: new Date().toISOString() })
    const acquire = (adapter: typeof advisory, runId: string, waitMs: number) =>
      adapter.acquire({ store: 'catalog', ttlMs: 30_000, waitMs, holder: holder(runId) })
    try {
      for (const [first, second] of [
        [advisory, table],
        [table, advisory],
      ] as const) {
        const lease = await acquire(first, 'first', 0)
        const error = await acquire(second, 'second', 300).catch((thrown: unknown) => thrown)
        expect(FluxError.is(error) && error.code).toBe('LEASE_TIMEOUT')
        expect(await second.inspectLease()).toMatchObject({ runId: 'first' })
        await lease.release()
        await (await acquire(second, 'second', 0)).release()
      }
    } finally {
      await Promise.all([advisory.close(), table.close()])
    }
  })
})

describeWithServer('a session for the lease, connected ahead', (url) => {
  /** The sessions named for `adapter`'s lease: `flux lease <tag>`, the tag of its pool's sessions. */
  const leaseSessions = async (adapter: ReturnType<typeof pgStore>) => {
    const client = adapter.client() as { query(text: string): Promise<{ rows: { name: string }[] }> }
    const { rows } = await client.query(
      'select application_name as name from pg_stat_activity where pid = pg_backend_pid()',
    )
    const tag = rows[0]!.name.replace(/^flux /, '')
    const { rows: leases } = await adminPool(url).query(
      'select count(*)::int as n from pg_stat_activity where application_name = $1',
      [`flux lease ${tag}`],
    )
    return leases[0].n as number
  }

  it('is connected while a run plans, and not when core says no lease is likely (status, a fleet member)', async () => {
    const schema = randomSchema()
    const likely = pgStore({ url, schema })
    await likely.open()
    try {
      await likely.ledger.read()
      // it connects in the background: wait for it to show
      let seen = 0
      for (let waited = 0; seen === 0 && waited < 5_000; waited += 50) {
        seen = await leaseSessions(likely)
        if (seen === 0) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(seen).toBe(1)
    } finally {
      await likely.close()
    }

    const unlikely = pgStore({ url, schema })
    await unlikely.open({ leaseLikely: false })
    try {
      await unlikely.ledger.read()
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect(await leaseSessions(unlikely)).toBe(0)
      // a lease taken all the same connects its session then
      const holder = { host: 'test', pid: process.pid, runId: 'late', since: new Date().toISOString() }
      const lease = await unlikely.acquire({ store: 'catalog', ttlMs: 60_000, waitMs: 5_000, holder })
      expect(await leaseSessions(unlikely)).toBe(1)
      await lease.release()
    } finally {
      await unlikely.close()
      await adminPool(url).query(`drop schema if exists "${schema}" cascade`)
    }
  })
})
