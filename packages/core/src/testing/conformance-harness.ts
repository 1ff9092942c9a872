import { setTimeout as sleep } from 'node:timers/promises'
import {
  type Adapter,
  batchesTransactions,
  type Capabilities,
  capabilitiesOf,
  type Lease,
  type LeaseHolder,
} from '../adapter.ts'
import { FluxError, type FluxErrorCode } from '../errors.ts'
import type { ConformanceOptions, ConformanceStore } from './conformance-options.ts'
import { expect, it } from './vitest.ts'

/** What one conformance test gets: its own store namespace, and adapters over it. */
export interface Harness {
  readonly store: ConformanceStore
  /** A new adapter instance over the test's namespace, opened; closed after the test. */
  open(): Promise<Adapter>
  /** Closes an adapter from `open()` now instead of after the test. */
  close(adapter: Adapter): Promise<void>
  /** Releases the lease after the test, whatever happens. */
  hold(lease: Lease): Lease
}

export interface ConformanceTestSettings {
  /**
   * Skips the test unless the adapter declares this capability (`batches`: has
   * `transactionBatch`; `fleetBoard`: keeps fleet boards).
   */
  requires?: keyof Capabilities | 'batches' | 'fleetBoard'
  /** Skips the test outright: what it checks was not configured (no `secrets`, no `unreachable`). */
  skip?: boolean
  timeout?: number
}

export type ConformanceTest = (
  name: string,
  fn: (harness: Harness) => Promise<void>,
  settings?: ConformanceTestSettings,
) => void

const DEFAULT_TIMEOUT_MS = 30_000

/** The store name the suite passes to `acquire()`, as core passes the name from the config. */
export const STORE_NAME = 'conformance-store'

/**
 * `it()` for the suite: sets up a namespace per test, and releases leases, closes adapters
 * and cleans up afterwards. A cleanup failure fails the test, unless the test failed first.
 */
export function conformanceTest(options: ConformanceOptions): ConformanceTest {
  let probed: Promise<Required<Capabilities> & { batches: boolean; fleetBoard: boolean }> | undefined
  const capabilities = () => {
    probed ??= (async () => {
      const store = await options.setup()
      const adapter = store.create()
      try {
        // read after open(): an adapter may learn its capabilities when it connects
        await adapter.open()
        return {
          ...capabilitiesOf(adapter),
          batches: batchesTransactions(adapter),
          fleetBoard: typeof adapter.fleetBoard === 'object',
        }
      } finally {
        await adapter.close()
        await store.cleanup()
      }
    })()
    return probed
  }

  return (name, fn, settings = {}) => {
    ;(settings.skip ? it.skip : it)(
      name,
      async (context) => {
        if (settings.requires) {
          const supported = (await capabilities())[settings.requires]
          context.skip(
            !supported,
            settings.requires === 'batches'
              ? 'the adapter has no transactionBatch()'
              : settings.requires === 'fleetBoard'
                ? 'the adapter keeps no fleet board'
                : `the adapter does not declare capabilities.${settings.requires}`,
          )
        }
        const store = await options.setup()
        const adapters: Adapter[] = []
        const leases: Lease[] = []
        const harness: Harness = {
          store,
          async open() {
            const adapter = store.create()
            await adapter.open()
            adapters.push(adapter)
            return adapter
          },
          async close(adapter) {
            adapters.splice(adapters.indexOf(adapter), 1)
            await adapter.close()
          },
          hold(lease) {
            leases.push(lease)
            return lease
          },
        }
        let failure: { error: unknown } | undefined
        try {
          await fn(harness)
        } catch (error) {
          failure = { error }
        }
        for (const step of [
          ...leases.map((lease) => () => lease.release()),
          ...adapters.map((adapter) => () => adapter.close()),
          () => store.cleanup(),
        ]) {
          try {
            await step()
          } catch (error) {
            failure ??= { error }
          }
        }
        if (failure) throw failure.error
      },
      settings.timeout ?? DEFAULT_TIMEOUT_MS,
    )
  }
}

/** Awaits a rejection and checks that it is a `FluxError` with this code; returns it. */
export async function expectFluxError(promise: Promise<unknown>, code: FluxErrorCode): Promise<FluxError> {
  const outcome = await promise.then(
    (value) => ({ rejected: false as const, value }),
    (error: unknown) => ({ rejected: true as const, error }),
  )
  if (!outcome.rejected) {
    throw new Error(`expected a FluxError with code ${code}, but it resolved with ${String(outcome.value)}`)
  }
  const { error } = outcome
  if (!FluxError.is(error)) {
    throw new Error(`expected a FluxError with code ${code}, got: ${String(error)}`, { cause: error })
  }
  expect(error.code, error.message).toBe(code)
  return error
}

/** Polls `condition` until it holds or `timeoutMs` runs out (then fails naming `what`). */
export async function pollUntil(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs
  while (!(await condition())) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs}ms waiting until ${what}`)
    await sleep(10)
  }
}

let holders = 0

/**
 * A lease holder on a made-up host, so that no adapter judges it gone (`isHolderGone` only
 * judges holders of this host), with a pid that is easy to spot in messages.
 */
export function testHolder(label: string): LeaseHolder {
  holders += 1
  return {
    host: `flux-conformance-${label}.invalid`,
    pid: 424_200 + holders,
    runId: `conformance-${label}-${holders}`,
    since: new Date().toISOString(),
  }
}

/** The members of a holder that every adapter gives back unchanged. */
export function holderIdentity(holder: LeaseHolder): Omit<LeaseHolder, 'expiresAt'> {
  return { host: holder.host, pid: holder.pid, runId: holder.runId, since: holder.since }
}
