// What the conformance suite cannot reach: a ledger write whose registration (step 1) came
// before a take-over and whose write (step 2) lands after it, take-overs racing on FerretDB,
// and the documents that fencing leaves in the database.

import { setTimeout } from 'node:timers/promises'
import { FluxError, type Lease, type LeaseHolder, type LedgerEntry } from '@flux/core'
import { suspendLeaseForTesting } from '@flux/core/testing'
import type { Db } from 'mongodb'
import { afterEach, expect, it } from 'vitest'
import { type MongoStoreClient, mongoStore } from '../src/index.ts'
import { describeWithServer, freshDatabase } from './mongo-test-helpers.ts'

const SHORT_TTL_MS = 600
const LONG_TTL_MS = 30_000

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

let holders = 0
const holder = (label: string): LeaseHolder => ({
  host: `flux-mongo-${label}.invalid`,
  pid: 515_100 + ++holders,
  runId: `r-${label}`,
  since: new Date().toISOString(),
})

const entry = (id: string, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  id,
  checksum: 'sha256:00',
  status: 'applied',
  appliedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1,
  runId: 'r',
  fluxVersion: '0.1.0',
  ...extra,
})

async function setup(url: string) {
  const { name, db, drop } = await freshDatabase(url)
  cleanups.push(drop)
  const open = async () => {
    const adapter = mongoStore({ url, database: name })
    await adapter.open()
    cleanups.push(() => adapter.close())
    return adapter
  }
  type Adapter = Awaited<ReturnType<typeof open>>
  const acquire = async (adapter: Adapter, label: string, ttlMs = LONG_TTL_MS, waitMs = 10_000) => {
    const lease = await adapter.acquire({ store: 'reviews', ttlMs, waitMs, holder: holder(label) })
    cleanups.push(() => lease.release())
    return lease
  }
  /** A holder that froze: it stops renewing, so its lease expires and can be taken over. */
  const frozen = async (adapter: Adapter): Promise<Lease> => {
    const lease = await acquire(adapter, 'frozen', SHORT_TTL_MS, 0)
    suspendLeaseForTesting(lease)
    return lease
  }
  return { db, open, acquire, frozen }
}

/**
 * Holds the adapter's next ledger event about `id` (its insert) until `resume()`, as if the runner
 * froze after registering its block of numbers and before writing.
 */
function holdWrite(adapter: { client(): MongoStoreClient }, id: string) {
  const db: Db = adapter.client().db
  const collection = db.collection.bind(db)
  let reached!: () => void
  let resume!: () => void
  const paused = new Promise<void>((resolve) => {
    reached = resolve
  })
  const resumed = new Promise<void>((resolve) => {
    resume = resolve
  })
  db.collection = ((name: string, options?: object) => {
    const target = collection(name, options)
    if (name !== 'flux_ledger') return target
    const original = target.insertMany.bind(target) as (...args: unknown[]) => Promise<unknown>
    Object.assign(target, {
      async insertMany(documents: { id?: unknown }[], ...rest: unknown[]) {
        if (documents.some((document) => document.id === id)) {
          reached()
          await resumed
        }
        return original(documents, ...rest)
      },
    })
    return target
  }) as typeof db.collection
  return { paused, resume }
}

async function pollUntil(what: string, condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await setTimeout(20)
  }
}

async function rejection(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  )
  if (!FluxError.is(error)) throw error
  return error
}

const ids = (entries: LedgerEntry[]) => entries.map((read) => `${read.id}:${read.status}`)

describeWithServer('fencing on a server without transactions', (url) => {
  it('a write registered before the take-over and landing after it changes nothing and rejects LEASE_LOST', async () => {
    const { open, acquire, frozen } = await setup(url)
    const [stale, next, reader] = [await open(), await open(), await open()]
    await frozen(stale)
    await stale.ledger.record(entry('app/before'))
    const held = holdWrite(stale, 'app/racing')
    const writing = stale.ledger.record(entry('app/racing', { status: 'running' }))
    await held.paused
    await acquire(next, 'next')
    held.resume()
    const error = await rejection(writing)
    expect(error.code).toBe('LEASE_LOST')
    expect(error.message).toMatch(/taken over by pid \d+ on flux-mongo-next\.invalid/)
    expect(ids(await reader.ledger.read())).toEqual(['app/before:applied'])
    // the new holder records the fenced id as a new entry: last in the order
    await next.ledger.record(entry('app/racing'))
    expect(ids(await reader.ledger.read())).toEqual(['app/before:applied', 'app/racing:applied'])
  })

  it('a remove registered before the take-over and landing after it changes nothing', async () => {
    const { open, acquire, frozen } = await setup(url)
    const [stale, next, reader] = [await open(), await open(), await open()]
    await frozen(stale)
    await stale.ledger.record(entry('app/kept'))
    const held = holdWrite(stale, 'app/kept')
    const removing = stale.ledger.remove('app/kept')
    await held.paused
    await acquire(next, 'next')
    held.resume()
    expect((await rejection(removing)).code).toBe('LEASE_LOST')
    expect(ids(await reader.ledger.read())).toEqual(['app/kept:applied'])
  })

  it("the fence of an entry outlives the new holder's own record, remove and release", async () => {
    const { db, open, acquire, frozen } = await setup(url)
    const [stale, next, reader] = [await open(), await open(), await open()]
    const staleLease = await frozen(stale)
    const held = holdWrite(stale, 'app/racing')
    const writing = stale.ledger.record(entry('app/racing', { status: 'running' }))
    await held.paused
    const lease = await acquire(next, 'next')
    await next.ledger.record(entry('app/racing', { runId: 'r-next' }))
    await next.ledger.remove('app/racing')
    await lease.release()
    held.resume()
    const error = await rejection(writing)
    expect(error.code).toBe('LEASE_LOST')
    // the lease is free again, and the error still names the runner that took it over
    expect(error.message).toMatch(/taken over by pid \d+ on flux-mongo-next\.invalid .*epoch \d+/)
    expect(await reader.ledger.read()).toEqual([])
    // what stays in the database: the new holder's two events, and a marker under each number of
    // the stale holder's block that it had not used: all 100, as its only write was refused
    const documents = await db
      .collection('flux_ledger')
      .find({ _id: { $ne: '#sequence' as never } }, { sort: { seq: 1 } })
      .toArray()
    const markers = documents.filter((document) => document.fenced !== undefined)
    expect(markers).toHaveLength(100)
    expect(
      markers.every((marker) => marker.fenced === staleLease.epoch && String(marker._id) === `#${marker.seq}`),
    ).toBe(true)
    expect(documents.filter((document) => document.fenced === undefined)).toEqual([
      expect.objectContaining({ id: 'app/racing', runId: 'r-next', epoch: lease.epoch }),
      expect.objectContaining({ id: 'app/racing', removed: true, epoch: lease.epoch }),
    ])
    expect(
      await db
        .collection('flux_lock')
        .find({}, { sort: { epoch: 1 } })
        .toArray(),
    ).toEqual([
      {
        _id: `lease-${staleLease.epoch}`,
        epoch: staleLease.epoch,
        takenOverBy: expect.objectContaining({ host: 'flux-mongo-next.invalid', epoch: lease.epoch }),
      },
      { _id: `lease-${lease.epoch}`, epoch: lease.epoch },
    ])
  })

  it('competitors taking over one expired lease at once: exactly one gets it', async () => {
    const { open, acquire, frozen } = await setup(url)
    const competitors = await Promise.all(Array.from({ length: 6 }, () => open()))
    await frozen(await open())
    await pollUntil('the frozen lease expires', async () => {
      const expiresAt = (await competitors[0]!.inspectLease())?.expiresAt
      return expiresAt !== undefined && Date.parse(expiresAt) < Date.now()
    })
    const outcomes = await Promise.allSettled(
      competitors.map((competitor, index) => acquire(competitor, `taker-${index}`, LONG_TTL_MS, 300)),
    )
    expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1)
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') expect((outcome.reason as FluxError).code).toBe('LEASE_TIMEOUT')
    }
  })

  it('epochs keep growing after the lease documents were deleted by hand, and writes go on', async () => {
    const { db, open, acquire } = await setup(url)
    const [adapter, other] = [await open(), await open()]
    const first = await acquire(adapter, 'first')
    await adapter.ledger.record(entry('app/one'))
    await first.release()
    await db.collection('flux_lock').deleteMany({})
    const second = await acquire(other, 'second')
    expect(second.epoch).toBeGreaterThan(first.epoch!)
    await other.ledger.record(entry('app/one', { runId: 'r-again' }))
    expect((await other.ledger.read()).map((read) => read.runId)).toEqual(['r-again'])
  })
})
