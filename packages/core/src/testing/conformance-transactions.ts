import type { Adapter, Ledger } from '../adapter.ts'
import type { ConformanceTest } from './conformance-harness.ts'
import { ledgerEntry } from './conformance-ledger.ts'
import { expect } from './vitest.ts'

function batchOf(adapter: Adapter) {
  const batch = adapter.transactionBatch
  if (!batch) throw new Error(`${adapter.kind} has no transactionBatch()`)
  return batch.bind(adapter)
}

function transactionOf(adapter: Adapter) {
  const transaction = adapter.transaction
  if (!transaction) throw new Error(`${adapter.kind} declares capabilities.transactions but has no transaction()`)
  return transaction.bind(adapter)
}

export function transactionTests(test: ConformanceTest): void {
  const settings = { requires: 'transactions' } as const

  test(
    'a transaction that resolves commits its ledger record and returns its value',
    async ({ open }) => {
      const [adapter, other] = [await open(), await open()]
      const entry = ledgerEntry('app/in-transaction', { checkpoint: { step: 1 } })
      const result = await transactionOf(adapter)(async (_client, ledger) => {
        await ledger.record(entry)
        return 'done'
      })
      expect(result).toBe('done')
      expect(await adapter.ledger.read()).toEqual([entry])
      expect(await other.ledger.read()).toEqual([entry])
    },
    settings,
  )

  test(
    'a transaction that throws rejects with the same error and records nothing',
    async ({ open }) => {
      const [adapter, other] = [await open(), await open()]
      await adapter.ledger.record(ledgerEntry('app/before'))
      const failure = new Error('the migration failed half-way')
      const outcome = await transactionOf(adapter)(async (_client, ledger) => {
        await ledger.record(ledgerEntry('app/rolled-back'))
        await ledger.remove('app/before')
        throw failure
      }).then(
        () => 'resolved',
        (error: unknown) => error,
      )
      expect(outcome).toBe(failure)
      expect((await adapter.ledger.read()).map((entry) => entry.id)).toEqual(['app/before'])
      expect((await other.ledger.read()).map((entry) => entry.id)).toEqual(['app/before'])
    },
    settings,
  )

  test(
    'the ledger passed to the transaction sees its own uncommitted writes',
    async ({ open }) => {
      const adapter = await open()
      const ids = await transactionOf(adapter)(async (_client, ledger) => {
        await ledger.record(ledgerEntry('app/a'))
        await ledger.record(ledgerEntry('app/b'))
        return (await ledger.read()).map((entry) => entry.id)
      })
      expect(ids).toEqual(['app/a', 'app/b'])
    },
    settings,
  )

  const batches = { requires: 'batches' } as const

  test(
    'a batch commits every transaction with its ledger record, in order, and says so as they commit',
    async ({ open }) => {
      const [adapter, other] = [await open(), await open()]
      const entries = Array.from({ length: 40 }, (_, index) => ledgerEntry(`app/batch-${index}`))
      const told: number[] = []
      const outcome = await batchOf(adapter)(
        entries.map((entry) => async (_client, ledger) => ledger.record(entry)),
        { onCommit: (committed) => told.push(committed) },
      )
      expect(outcome).toEqual({ committed: 40 })
      expect(await other.ledger.read()).toEqual(entries)
      // what onCommit tells only grows, and never more than committed
      expect(told).toEqual([...told].sort((a, b) => a - b))
      expect(told.every((count) => count >= 1 && count <= 40)).toBe(true)
    },
    batches,
  )

  test(
    'a batch stops at the transaction that throws: those before it are committed, it and the rest are not run',
    async ({ open }) => {
      const [adapter, other] = [await open(), await open()]
      const failure = new Error('the fourth migration failed')
      const called: number[] = []
      const outcome = await batchOf(adapter)(
        Array.from({ length: 8 }, (_, index) => async (_client: unknown, ledger: Ledger) => {
          called.push(index)
          await ledger.record(ledgerEntry(`app/batch-${index}`))
          if (index === 3) throw failure
        }),
      )
      expect(outcome).toEqual({ committed: 3, failed: { index: 3, error: failure } })
      expect(called).toEqual([0, 1, 2, 3])
      expect((await other.ledger.read()).map((entry) => entry.id)).toEqual([
        'app/batch-0',
        'app/batch-1',
        'app/batch-2',
      ])
    },
    batches,
  )
}
