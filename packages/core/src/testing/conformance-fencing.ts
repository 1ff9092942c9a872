import type { Adapter, Lease, LeaseHolder, LedgerEntry } from '../adapter.ts'
import type { FluxError } from '../errors.ts'
import { type ConformanceTest, expectFluxError, STORE_NAME, testHolder } from './conformance-harness.ts'
import { ledgerEntry } from './conformance-ledger.ts'
import { suspendLeaseForTesting } from './suspend.ts'
import { expect } from './vitest.ts'

/** Short enough for a take-over to come in about a second. */
const SHORT_TTL_MS = 600
const LONG_TTL_MS = 30_000

const acquire = (adapter: Adapter, holder: LeaseHolder, waitMs: number, ttlMs = LONG_TTL_MS) =>
  adapter.acquire({ store: STORE_NAME, ttlMs, waitMs, holder })

/** A holder that froze: its lease stops renewing, so another instance can take it over. */
async function frozenHolder(adapter: Adapter, hold: (lease: Lease) => Lease): Promise<Lease> {
  const lease = hold(await acquire(adapter, testHolder('frozen'), 0, SHORT_TTL_MS))
  suspendLeaseForTesting(lease)
  return lease
}

function expectNamesHolder(error: FluxError, holder: LeaseHolder): void {
  expect(error.message).toContain('taken over')
  expect(error.message).toContain(String(holder.pid))
  expect(error.message).toContain(holder.host)
}

const statuses = (entries: LedgerEntry[]) => entries.map((entry) => `${entry.id}:${entry.status}`)

/**
 * Fencing (see the adapter contract): once a lease is taken over, the store refuses its old
 * holder's ledger writes, and a transaction of the old holder commits nothing.
 */
export function fencingTests(test: ConformanceTest): void {
  test(
    "after a take-over the old holder's ledger writes are refused with LEASE_LOST naming the new holder, and change nothing",
    async ({ open, hold }) => {
      const [stale, next, reader] = [await open(), await open(), await open()]
      await frozenHolder(stale, hold)
      const running = ledgerEntry('app/in-flight', { status: 'running', durationMs: 0 })
      await stale.ledger.record(running)
      const newHolder = testHolder('next')
      hold(await acquire(next, newHolder, 5_000))

      expectNamesHolder(
        await expectFluxError(stale.ledger.record({ ...running, status: 'applied' }), 'LEASE_LOST'),
        newHolder,
      )
      await expectFluxError(stale.ledger.record(ledgerEntry('app/stale-new')), 'LEASE_LOST')
      await expectFluxError(stale.ledger.remove('app/in-flight'), 'LEASE_LOST')
      if (stale.ledger.write) {
        await expectFluxError(
          stale.ledger.write([
            { record: { ...running, status: 'applied' } },
            { record: ledgerEntry('app/stale-next') },
          ]),
          'LEASE_LOST',
        )
      }
      expect(statuses(await reader.ledger.read())).toEqual(['app/in-flight:running'])

      // the new holder writes as usual
      await next.ledger.record({ ...running, status: 'applied', runId: 'r-next' })
      expect(statuses(await reader.ledger.read())).toEqual(['app/in-flight:applied'])
      expect((await reader.ledger.read())[0]?.runId).toBe('r-next')
    },
    { timeout: 30_000 },
  )

  test(
    'entries announced with expect() before a take-over are fenced too: the old holder can write none of them',
    async ({ open, hold }) => {
      const [stale, next, reader] = [await open(), await open(), await open()]
      await frozenHolder(stale, hold)
      // a chain of three steps: the ledger may register them all with the first write
      stale.ledger.expect?.(['app/chain-1', 'app/chain-2', 'app/chain-3'])
      const first = ledgerEntry('app/chain-1', { status: 'running', durationMs: 0 })
      await stale.ledger.record(first)
      const newHolder = testHolder('next')
      hold(await acquire(next, newHolder, 5_000))

      const joined = [{ record: { ...first, status: 'applied' as const } }, { record: ledgerEntry('app/chain-2') }]
      expectNamesHolder(
        await expectFluxError(
          stale.ledger.write ? stale.ledger.write(joined) : stale.ledger.record(joined[0]!.record),
          'LEASE_LOST',
        ),
        newHolder,
      )
      await expectFluxError(stale.ledger.record(ledgerEntry('app/chain-2')), 'LEASE_LOST')
      await expectFluxError(stale.ledger.record(ledgerEntry('app/chain-3')), 'LEASE_LOST')
      await expectFluxError(stale.ledger.remove('app/chain-1'), 'LEASE_LOST')
      expect(statuses(await reader.ledger.read())).toEqual(['app/chain-1:running'])
    },
    { timeout: 30_000 },
  )

  test(
    'the fence outlives the new holder: after it released, the old holder is still refused',
    async ({ open, hold }) => {
      const [stale, next, reader] = [await open(), await open(), await open()]
      await frozenHolder(stale, hold)
      await stale.ledger.record(ledgerEntry('app/before'))
      const lease = hold(await acquire(next, testHolder('next'), 5_000))
      await next.ledger.record(ledgerEntry('app/by-next'))
      await lease.release()
      await expectFluxError(stale.ledger.record(ledgerEntry('app/stale-late')), 'LEASE_LOST')
      await expectFluxError(stale.ledger.remove('app/by-next'), 'LEASE_LOST')
      expect(statuses(await reader.ledger.read())).toEqual(['app/before:applied', 'app/by-next:applied'])
    },
    { timeout: 30_000 },
  )

  test(
    'a lease broken by `flux unlock` fences its old holder',
    async ({ open, hold }) => {
      const [stale, breaker, reader] = [await open(), await open(), await open()]
      hold(await acquire(stale, testHolder('stuck'), 0))
      await stale.ledger.record(ledgerEntry('app/before'))
      await breaker.breakLease()
      await expectFluxError(stale.ledger.record(ledgerEntry('app/after-break')), 'LEASE_LOST')
      expect(statuses(await reader.ledger.read())).toEqual(['app/before:applied'])
    },
    { timeout: 30_000 },
  )

  test('epochs, where the store keeps them, grow with every acquisition and take-over', async ({ open, hold }) => {
    const [first, second, third] = [await open(), await open(), await open()]
    const frozen = await frozenHolder(first, hold)
    if (frozen.epoch === undefined) return
    const takenOver = hold(await acquire(second, testHolder('next'), 5_000))
    expect(takenOver.epoch).toBeGreaterThan(frozen.epoch)
    await takenOver.release()
    const again = hold(await acquire(third, testHolder('third'), 0))
    expect(again.epoch).toBeGreaterThan(takenOver.epoch!)
  })

  test(
    'a transaction begun before the take-over commits nothing after it',
    async ({ open, hold }) => {
      const [stale, next, reader] = [await open(), await open(), await open()]
      await frozenHolder(stale, hold)
      await stale.ledger.record(ledgerEntry('app/before'))
      let takenOver!: () => void
      const tookOver = new Promise<void>((resolve) => {
        takenOver = resolve
      })
      const transaction = stale.transaction!(async (_client, ledger) => {
        await ledger.record(ledgerEntry('app/stale-in-transaction'))
        await tookOver
      })
      transaction.catch(() => {})
      hold(await acquire(next, testHolder('next'), 5_000))
      takenOver()
      await expectFluxError(transaction, 'LEASE_LOST')
      expect(statuses(await reader.ledger.read())).toEqual(['app/before:applied'])
    },
    { requires: 'transactions', timeout: 30_000 },
  )

  test(
    "a stale holder's batch of transactions commits none of them",
    async ({ open, hold }) => {
      const [stale, next, reader] = [await open(), await open(), await open()]
      await frozenHolder(stale, hold)
      hold(await acquire(next, testHolder('next'), 5_000))
      const outcome = await stale.transactionBatch!(
        ['app/b1', 'app/b2', 'app/b3'].map((id) => async (_client, ledger) => {
          await ledger.record(ledgerEntry(id))
        }),
      )
      expect(outcome.committed).toBe(0)
      expect(outcome.failed?.index).toBe(0)
      expect((outcome.failed?.error as FluxError | undefined)?.code).toBe('LEASE_LOST')
      expect(await reader.ledger.read()).toEqual([])
    },
    { requires: 'batches', timeout: 30_000 },
  )
}
