import { describe } from 'vitest'
import { blobTests } from './conformance-blobs.ts'
import { conformanceTest } from './conformance-harness.ts'
import { leaseTests } from './conformance-lease.ts'
import { ledgerTests } from './conformance-ledger.ts'
import type { ConformanceOptions } from './conformance-options.ts'
import { redactionTests } from './conformance-redaction.ts'
import { transactionTests } from './conformance-transactions.ts'

/**
 * The conformance suite every adapter runs against its real server, from a test file of a
 * few lines. Groups: `ledger`, `lease`, `transactions` (skipped unless the adapter declares
 * `capabilities.transactions`), `blobs` (unless `capabilities.blobs`), `redaction`.
 * Each test gets a fresh namespace from `setup()` and several adapter instances over it,
 * standing for several processes.
 *
 * @example
 * ```ts
 * import { describeAdapterConformance } from '@flux/core/testing'
 * import { fsStore } from '@flux/fs'
 *
 * describeAdapterConformance('fs', {
 *   async setup() {
 *     const root = await mkdtemp(join(tmpdir(), 'flux-fs-'))
 *     return { create: () => fsStore({ root }), cleanup: () => rm(root, { recursive: true, force: true }) }
 *   },
 * })
 * ```
 */
export function describeAdapterConformance(name: string, options: ConformanceOptions): void {
  const test = conformanceTest(options)
  describe(`${name} adapter conformance`, () => {
    describe('ledger', () => ledgerTests(test))
    describe('lease', () => leaseTests(test))
    describe('transactions', () => transactionTests(test))
    describe('blobs', () => blobTests(test))
    describe('redaction', () => redactionTests(test, options))
  })
}
