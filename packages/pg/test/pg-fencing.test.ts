import { setTimeout as sleep } from 'node:timers/promises'
import { type Adapter, FluxError, type LeaseHolder, type LedgerEntry } from '@flux/core'
import { suspendLeaseForTesting } from '@flux/core/testing'
import pg from 'pg'
import { afterAll, afterEach, expect, it } from 'vitest'
import { type PgClient, pgStore } from '../src/index.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

// What the conformance suite cannot see from outside: how the fence check and a take-over meet
// on the server (the row lock), renewals beside it, and lock tables made by older versions.

const SHORT_TTL_MS = 600

let holders = 0
const holder = (label: string): LeaseHolder => ({
  host: `${label}.invalid`,
  pid: 515_000 + ++holders,
  runId: `run-${label}-${holders}`,
  since: new Date().toISOString(),
})

const entry = (id: string): LedgerEntry => ({
  id,
  checksum: 'sha256:0',
  status: 'applied',
  appliedAt: new Date().toISOString(),
  durationMs: 1,
  runId: 'run',
  fluxVersion: '0.1.0',
})

async function refusal(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  )
  if (!FluxError.is(error)) throw new Error(`expected a FluxError, got ${String(error)}`, { cause: error })
  return error
}

describeWithServer('fencing on the server', (url) => {
  const schemas: string[] = []
  const cleanups: (() => Promise<unknown>)[] = []
  let userPool: pg.Pool | undefined
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {})
    for (const schema of schemas.splice(0)) await adminPool(url).query(`drop schema if exists "${schema}" cascade`)
  })
  afterAll(async () => {
    await userPool?.end()
  })

  const open = async (create: () => Adapter<PgClient>, shared?: Map<string, unknown>) => {
    const adapter = create()
    await adapter.open(shared ? { shared } : undefined)
    cleanups.push(() => adapter.close())
    return adapter
  }
  const acquire = async (adapter: Adapter, label: string, ttlMs = 30_000, waitMs = 0) => {
    const lease = await adapter.acquire({ store: 'catalog', ttlMs, waitMs, holder: holder(label) })
    cleanups.push(() => lease.release())
    return lease
  }
  /** A holder that froze: its lease stops renewing. */
  const frozen = async (adapter: Adapter) => {
    const lease = await acquire(adapter, 'frozen', SHORT_TTL_MS)
    suspendLeaseForTesting(lease)
    return lease
  }
  /** Polls until a session of the test's database waits for a row lock, running a statement that contains `text`. */
  const waitsForRowLock = async (text: string) => {
    const deadline = Date.now() + 10_000
    for (;;) {
      const { rows } = await adminPool(url).query(
        `select 1 from pg_stat_activity where wait_event_type = 'Lock' and position($1 in query) > 0`,
        [text],
      )
      if (rows.length > 0) return
      if (Date.now() > deadline) throw new Error(`no session waited for a row lock running ${text}`)
      await sleep(20)
    }
  }
  /**
   * A transaction of `adapter` that has sent its migration's statement and its ledger write, so
   * its fence check took the row lock, and commits once `commit()` is called.
   */
  const openTransaction = (adapter: Adapter, schema: string, id: string) => {
    let commit!: () => void
    const committing = new Promise<void>((resolve) => {
      commit = resolve
    })
    let checked!: () => void
    const fenceChecked = new Promise<void>((resolve) => {
      checked = resolve
    })
    const done = adapter.transaction!(async (client, ledger) => {
      const store = client as PgClient
      await store.query(`create table "${schema}".done_by_${id} (id int)`)
      await ledger.record(entry(`app/${id}`))
      // a query of its own sends the fence check and the ledger write now, not with COMMIT
      await store.query('select 1')
      checked()
      await committing
    })
    done.catch(() => {})
    return { done, commit, fenceChecked }
  }
  const ledgerIds = async (schema: string) =>
    (await adminPool(url).query(`select id from "${schema}".flux_ledger order by seq`)).rows.map((row) => row.id)

  it('a transaction whose sessions a take-over ended reports LEASE_LOST, also when the new lease row comes a moment later', async () => {
    const schema = randomSchema()
    schemas.push(schema)
    await adminPool(url).query(`create schema "${schema}"`)
    const stale = await open(() => pgStore({ url, schema }))
    await acquire(stale, 'stale')
    const transaction = openTransaction(stale, schema, 'stale')
    await transaction.fenceChecked
    // a take-over's first move: it ends the holder's lease session and the sessions of its pool
    const { rows } = await adminPool(url).query<{ ended: boolean }>(
      `with holder as (
  select substring(a.application_name from '^flux lease (.+)$') as tag from pg_stat_activity a
  join "${schema}".flux_ledger_lock r on r.backend_pid = a.pid and r.name = 'lease')
select pg_terminate_backend(a.pid) as ended from pg_stat_activity a, holder h
where a.application_name in ('flux lease ' || h.tag, 'flux ' || h.tag)`,
    )
    expect(rows.length).toBeGreaterThanOrEqual(2)
    transaction.commit()
    // then, once the lock is free, it writes its own row: here a moment after the holder's commit failed
    await sleep(300)
    await adminPool(url).query(
      `update "${schema}".flux_ledger_lock set token = gen_random_uuid()::text, backend_pid = null, epoch = epoch + 1,
  holder = '{"host": "next.invalid", "pid": 1, "runId": "next", "since": "2026-12-08T00:00:00.000Z"}'::jsonb
where name = 'lease'`,
    )
    const error = await refusal(transaction.done)
    expect(error.code).toBe('LEASE_LOST')
    expect(error.message).toContain('next.invalid')
    // nothing of the transaction: its table, its ledger (made in it) and its entry
    const { rows: left } = await adminPool(url).query<{ table: string | null; ledger: string | null }>(
      `select to_regclass('"${schema}".done_by_stale')::text as table, to_regclass('"${schema}".flux_ledger')::text as ledger`,
    )
    expect(left).toEqual([{ table: null, ledger: null }])
  })

  const modes = [
    ['lock table', (schema: string) => () => pgStore({ url, schema, lock: 'table' })],
    [
      'advisory lock on your own pool',
      (schema: string) => () => {
        userPool ??= new pg.Pool({ connectionString: url, max: 12 })
        return pgStore({ pool: userPool, schema })
      },
    ],
  ] as const

  for (const [mode, store] of modes) {
    it(`${mode}: a take-over waits for a transaction that passed the fence check, then sees what it committed`, async () => {
      const schema = randomSchema()
      schemas.push(schema)
      await adminPool(url).query(`create schema "${schema}"`)
      const [stale, next] = [await open(store(schema)), await open(store(schema))]
      await frozen(stale)
      const transaction = openTransaction(stale, schema, 'stale')
      await transaction.fenceChecked
      const taking = next.acquire({ store: 'catalog', ttlMs: 30_000, waitMs: 20_000, holder: holder('next') })
      taking.then((lease) => cleanups.push(() => lease.release())).catch(() => {})
      await waitsForRowLock(`"${schema}"."flux_ledger_lock"`)
      transaction.commit()
      await transaction.done
      const lease = await taking
      // the new holder reads the ledger after the commit it waited for
      expect(await next.ledger.read()).toMatchObject([{ id: 'app/stale' }])
      const error = await refusal(stale.ledger.record(entry('app/late')))
      expect(error.code).toBe('LEASE_LOST')
      const nextHolder = await next.inspectLease()
      expect(error.message).toContain(`taken over by pid ${nextHolder?.pid} on next.invalid`)
      expect(error.message).toContain(`epoch ${lease.epoch}`)
      expect(error.details?.holder).toMatchObject({ runId: nextHolder?.runId, epoch: lease.epoch })
      // once the new holder has released the lease, the stale one is still refused, and told who took it
      await lease.release()
      const later = await refusal(stale.ledger.remove('app/stale'))
      expect(later.message).toContain(`taken over by pid ${nextHolder?.pid} on next.invalid`)
      expect(await ledgerIds(schema)).toEqual(['app/stale'])
    })

    it(`${mode}: renewing a lease does not wait for a transaction that passed the fence check`, async () => {
      const schema = randomSchema()
      schemas.push(schema)
      await adminPool(url).query(`create schema "${schema}"`)
      const adapter = await open(store(schema))
      const lease = await acquire(adapter, 'holder')
      const transaction = openTransaction(adapter, schema, 'open')
      await transaction.fenceChecked
      await lease.renew()
      transaction.commit()
      await transaction.done
      expect(await ledgerIds(schema)).toEqual(['app/open'])
    })

    it(`${mode}: a lock table made by an older version gets its epoch column; epochs go on after a break`, async () => {
      const schema = randomSchema()
      schemas.push(schema)
      await adminPool(url).query(`create schema "${schema}";
create table "${schema}".flux_ledger_lock (name text primary key, token text not null, holder jsonb not null,
  expires_at timestamptz not null, backend_pid integer);
insert into "${schema}".flux_ledger_lock values ('lease', 'old', '{"host":"old","pid":1,"runId":"old","since":"2026-01-01T00:00:00.000Z"}', now() - interval '1 hour', null)`)
      const [first, second] = [await open(store(schema)), await open(store(schema))]
      expect(await first.inspectLease()).toBeUndefined()
      const lease = await acquire(first, 'first')
      expect(lease.epoch).toBe(1)
      expect((await second.inspectLease())?.epoch).toBe(1)
      await first.ledger.record(entry('app/first'))
      expect(await second.breakLease()).toMatchObject({ host: 'first.invalid', epoch: 1 })
      expect((await refusal(first.ledger.record(entry('app/after-break')))).code).toBe('LEASE_LOST')
      const again = await acquire(second, 'second')
      expect(again.epoch).toBe(2)
      await again.release()
      expect((await acquire(first, 'third')).epoch).toBe(3)
      expect(await ledgerIds(schema)).toEqual(['app/first'])
    })
  }

  for (const [how, shared] of [
    ['its own pool', undefined],
    ["a fleet's shared pool", new Map<string, unknown>()],
  ] as const) {
    it(`advisory lock on ${how}: a take-over ends the frozen holder’s sessions, so it waits for none of its transactions, which commit nothing`, async () => {
      const schema = randomSchema()
      schemas.push(schema)
      await adminPool(url).query(`create schema "${schema}"`)
      const [stale, next] = [
        await open(() => pgStore({ url, schema }), shared),
        await open(() => pgStore({ url, schema })),
      ]
      await frozen(stale)
      const transaction = openTransaction(stale, schema, 'stale')
      await transaction.fenceChecked
      const lease = await acquire(next, 'next', 30_000, 20_000)
      transaction.commit()
      const error = await refusal(transaction.done)
      expect(error.code).toBe('LEASE_LOST')
      expect(error.message).toContain(`taken over by pid ${(await next.inspectLease())?.pid}`)
      expect(error.message).toContain(`epoch ${lease.epoch}`)
      const { rows } = await adminPool(url).query(`select to_regclass('"${schema}".done_by_stale') as stale`)
      expect(rows).toEqual([{ stale: null }])
      expect(await next.ledger.read()).toEqual([])
      // the stale runner's next write goes through a new connection, and is refused
      expect((await refusal(stale.ledger.record(entry('app/late')))).code).toBe('LEASE_LOST')
      await next.ledger.record(entry('app/next'))
      expect(await ledgerIds(schema)).toEqual(['app/next'])
    })
  }
})
