import { expect } from 'vitest'
import type { Adapter } from '../adapter.ts'
import type { ConformanceTest } from './conformance-harness.ts'
import { ledgerEntry } from './conformance-ledger.ts'

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
}
