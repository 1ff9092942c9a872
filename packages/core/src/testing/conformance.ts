import { blobTests } from './conformance-blobs.ts'
import { fencingTests } from './conformance-fencing.ts'
import { fleetBoardTests } from './conformance-fleet-board.ts'
import { conformanceTest } from './conformance-harness.ts'
import { leaseTests } from './conformance-lease.ts'
import { ledgerTests } from './conformance-ledger.ts'
import type { ConformanceOptions } from './conformance-options.ts'
import { redactionTests } from './conformance-redaction.ts'
import { transactionTests } from './conformance-transactions.ts'
import { describe } from './vitest.ts'

/**
 * The conformance suite every adapter runs against its real server, from a test file of a
 * few lines. Groups: `ledger`, `lease`, `fencing`, `transactions` (skipped unless the adapter declares
 * `capabilities.transactions`), `blobs` (unless `capabilities.blobs`), `fleet board` (unless
 * the adapter has `fleetBoard`), `redaction`.
 * Each test gets a fresh namespace from `setup()` and several adapter instances over it,
 * standing for several processes.
 *
 * Besides the contract's rules it pins down what the contract leaves open:
 * - ledger: an entry comes back deep-equal (no `checkpoint: null` for an absent one); order is
 *   first-recorded, not by id or time; re-recording an id replaces it in place; an id removed
 *   and recorded again goes last; every write is visible at once to other instances;
 * - lease: not re-entrant (the same holder waits like anyone else); a timeout names the store
 *   name from `AcquireOptions.store` and the holder's pid; `inspectLease()` may add
 *   `expiresAt` but gives back host, pid, runId and since unchanged; `release()` twice is fine;
 *   a lease broken or taken over fires `lost`, and its `release()` leaves the new holder alone;
 * - fencing: after a take-over or a break, the old holder's ledger writes (direct, in a
 *   transaction, in a batch) reject with `LEASE_LOST` naming the new holder's host and pid, and
 *   change nothing, also once the new holder has released; epochs, where kept, only grow;
 * - blobs: `get` gives a `Buffer`; `list` sorts by UTF-16 code unit and filters by plain string
 *   prefix; "directories" are not keys (`exists('a')` is false when only `a/b` exists); keys
 *   with empty, `.` or `..` segments, a leading `/` or a trailing `/` are refused by every method;
 * - fleet board: a mark is seen by other instances; a read leaves out other heads, other
 *   fleets and marks older than `since`; marking touches neither the ledger nor the lease;
 * - `describe()` starts with the adapter's kind; `close()` after a failed `open()` is harmless.
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
    describe('fencing', () => fencingTests(test))
    describe('transactions', () => transactionTests(test))
    describe('blobs', () => blobTests(test))
    describe('fleet board', () => fleetBoardTests(test))
    describe('redaction', () => redactionTests(test, options))
  })
}
