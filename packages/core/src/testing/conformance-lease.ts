import { setTimeout as sleep } from 'node:timers/promises'
import type { Adapter, LeaseHolder } from '../adapter.ts'
import { FluxError } from '../errors.ts'
import {
  type ConformanceTest,
  expectFluxError,
  holderIdentity,
  pollUntil,
  STORE_NAME,
  testHolder,
} from './conformance-harness.ts'
import { ledgerEntry } from './conformance-ledger.ts'
import { suspendLeaseForTesting } from './suspend.ts'
import { expect } from './vitest.ts'

/** Long enough that no lease expires during a test that is not about expiry. */
const LONG_TTL_MS = 30_000
/** Short enough for tests about expiry to take about a second. */
const SHORT_TTL_MS = 600

const acquire = (adapter: Adapter, holder: LeaseHolder, waitMs: number, ttlMs = LONG_TTL_MS) =>
  adapter.acquire({ store: STORE_NAME, ttlMs, waitMs, holder })

export function leaseTests(test: ConformanceTest): void {
  test(
    'is exclusive: 8 instances competing at once never overlap and all get their turn',
    async ({ open, hold }) => {
      const adapters = await Promise.all(Array.from({ length: 8 }, () => open()))
      let counter = 0
      let inside = 0
      let maxInside = 0
      await Promise.all(
        adapters.map(async (adapter, index) => {
          const lease = hold(await acquire(adapter, testHolder(`racer-${index}`), 60_000))
          inside += 1
          maxInside = Math.max(maxInside, inside)
          const seen = counter
          await sleep(5)
          counter = seen + 1
          inside -= 1
          await lease.release()
        }),
      )
      expect(maxInside).toBe(1)
      expect(counter).toBe(8)
    },
    { timeout: 90_000 },
  )

  test('a competitor times out with LEASE_TIMEOUT naming the store and the holder', async ({ open, hold }) => {
    const [first, second] = [await open(), await open()]
    const holder = testHolder('first')
    hold(await acquire(first, holder, 0))
    const started = Date.now()
    const error = await expectFluxError(acquire(second, testHolder('second'), 200), 'LEASE_TIMEOUT')
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    expect(error.message).toContain(STORE_NAME)
    expect(error.message).toContain(String(holder.pid))
  })

  test('the lease is not re-entrant: the same instance and holder wait like anyone else', async ({ open, hold }) => {
    const adapter = await open()
    const holder = testHolder('twice')
    hold(await acquire(adapter, holder, 0))
    await expectFluxError(acquire(adapter, holder, 200), 'LEASE_TIMEOUT')
  })

  test('onWait reports the holder while waiting', async ({ open, hold }) => {
    const [first, second] = [await open(), await open()]
    const holder = testHolder('first')
    hold(await acquire(first, holder, 0))
    const seen: (LeaseHolder | undefined)[] = []
    const waiting = second.acquire({
      store: STORE_NAME,
      ttlMs: LONG_TTL_MS,
      waitMs: 1_500,
      holder: testHolder('second'),
      onWait: (current) => seen.push(current),
    })
    await expectFluxError(waiting, 'LEASE_TIMEOUT')
    expect(seen.length).toBeGreaterThan(0)
    expect(seen[0]).toMatchObject(holderIdentity(holder))
  })

  test('an aborted signal stops the wait with INTERRUPTED', async ({ open, hold }) => {
    const [first, second] = [await open(), await open()]
    hold(await acquire(first, testHolder('first'), 0))
    const started = Date.now()
    const signal = AbortSignal.timeout(200)
    await expectFluxError(
      second.acquire({ store: STORE_NAME, ttlMs: LONG_TTL_MS, waitMs: 20_000, holder: testHolder('second'), signal }),
      'INTERRUPTED',
    )
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  test('after release, another instance acquires at once; inspectLease follows', async ({ open, hold }) => {
    const [first, second] = [await open(), await open()]
    const holder = testHolder('first')
    expect(await second.inspectLease()).toBeUndefined()
    const lease = hold(await acquire(first, holder, 0))
    const seen = await second.inspectLease()
    expect(seen).toMatchObject(holderIdentity(holder))
    if (seen?.expiresAt !== undefined) expect(Date.parse(seen.expiresAt)).toBeGreaterThan(Date.parse(holder.since))
    await lease.release()
    await lease.release()
    expect(await second.inspectLease()).toBeUndefined()
    const next = testHolder('second')
    hold(await acquire(second, next, 0))
    expect(await first.inspectLease()).toMatchObject(holderIdentity(next))
  })

  test('the ledger can be read by another instance while the lease is held', async ({ open, hold }) => {
    const [runner, status] = [await open(), await open()]
    hold(await acquire(runner, testHolder('runner'), 0))
    await runner.ledger.record(ledgerEntry('app/while-leased'))
    expect((await status.ledger.read()).map((entry) => entry.id)).toEqual(['app/while-leased'])
  })

  test('breakLease frees a held lease, returns its holder, and the holder loses it', async ({ open, hold }) => {
    const [first, second] = [await open(), await open()]
    expect(await second.breakLease()).toBeUndefined()
    const holder = testHolder('stuck')
    const lease = hold(await acquire(first, holder, 0, SHORT_TTL_MS))
    expect(await second.breakLease()).toMatchObject(holderIdentity(holder))
    expect(await second.inspectLease()).toBeUndefined()
    const next = testHolder('next')
    hold(await acquire(second, next, 0))
    await pollUntil('the broken lease fires `lost`', () => lease.lost.aborted, 3 * SHORT_TTL_MS + 2_000)
    expect(FluxError.is(lease.lost.reason) && lease.lost.reason.code).toBe('LEASE_LOST')
    await lease.release()
    expect(await first.inspectLease()).toMatchObject(holderIdentity(next))
  })

  test('an expired lease is taken over; the old holder renew() rejects LEASE_LOST', async ({ open, hold }) => {
    const [first, second] = [await open(), await open()]
    const acquiredAt = Date.now()
    const old = hold(await acquire(first, testHolder('frozen'), 0, SHORT_TTL_MS))
    suspendLeaseForTesting(old)
    const next = testHolder('next')
    hold(await acquire(second, next, 5_000))
    // not before the old lease expired
    expect(Date.now() - acquiredAt).toBeGreaterThanOrEqual(SHORT_TTL_MS - 100)
    await expectFluxError(old.renew(), 'LEASE_LOST')
    expect(old.lost.aborted).toBe(true)
    expect(FluxError.is(old.lost.reason) && old.lost.reason.code).toBe('LEASE_LOST')
    await old.release()
    expect(await first.inspectLease()).toMatchObject(holderIdentity(next))
  })

  test("after a take-over, the old holder's release() leaves the new lease alone", async ({ open, hold }) => {
    const [first, second, third] = [await open(), await open(), await open()]
    const old = hold(await acquire(first, testHolder('frozen'), 0, SHORT_TTL_MS))
    suspendLeaseForTesting(old)
    const next = testHolder('next')
    hold(await acquire(second, next, 5_000))
    // the old holder has not noticed (no renewal since): release must still check ownership
    await old.release()
    expect(await third.inspectLease()).toMatchObject(holderIdentity(next))
    await expectFluxError(acquire(third, testHolder('third'), 200), 'LEASE_TIMEOUT')
  })

  test('a renewed lease outlives its ttl: a competitor waiting 3×ttl times out', async ({ open, hold }) => {
    const [first, second] = [await open(), await open()]
    const ttlMs = 1_000
    const holder = testHolder('long-runner')
    const lease = hold(await acquire(first, holder, 0, ttlMs))
    await expectFluxError(acquire(second, testHolder('competitor'), 3 * ttlMs), 'LEASE_TIMEOUT')
    expect(lease.lost.aborted).toBe(false)
    await lease.renew()
    expect(await second.inspectLease()).toMatchObject(holderIdentity(holder))
    await lease.release()
    hold(await acquire(second, testHolder('competitor'), 0))
  })
}
