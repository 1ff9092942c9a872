import type { Adapter, LedgerEntry, OpenOptions } from './adapter.ts'
import { FluxError, messageOf } from './errors.ts'

/**
 * Runs one adapter call and makes sure what it throws names the store: a `FluxError`
 * without a store gets one, anything else becomes `fallbackCode` with the original as cause.
 */
export async function inStore<T>(
  name: string,
  adapter: Adapter,
  what: string,
  call: () => Promise<T>,
  fallbackCode: 'STORE_UNAVAILABLE' | 'STORE_ERROR' = 'STORE_ERROR',
): Promise<T> {
  try {
    return await call()
  } catch (error) {
    throw storeError(name, adapter, what, error, fallbackCode)
  }
}

export function storeError(
  name: string,
  adapter: Adapter,
  what: string,
  error: unknown,
  fallbackCode: 'STORE_UNAVAILABLE' | 'STORE_ERROR' = 'STORE_ERROR',
): FluxError {
  if (FluxError.is(error) && error.store !== undefined) return error
  if (FluxError.is(error)) {
    // adapters' own errors already show describe(); add only the store's name
    return new FluxError(error.code, `store "${name}": ${error.message}`, {
      store: name,
      hint: error.hint,
      migration: error.migration,
      file: error.file,
      details: error.details,
      cause: error.cause ?? error,
    })
  }
  return new FluxError(
    fallbackCode,
    `store "${name}" (${safeDescribe(adapter)}): could not ${what}: ${messageOf(error)}`,
    {
      store: name,
      hint:
        fallbackCode === 'STORE_UNAVAILABLE'
          ? 'check that the store is running and reachable, then run again'
          : undefined,
      cause: error,
    },
  )
}

function safeDescribe(adapter: Adapter): string {
  try {
    return adapter.describe()
  } catch {
    return adapter.kind
  }
}

/** Opens the named stores, all at once; on a failure closes those that opened and throws. */
export async function openStores(
  adapters: Readonly<Record<string, Adapter>>,
  names: readonly string[],
  options?: OpenOptions,
): Promise<void> {
  const results = await Promise.allSettled(
    names.map((name) =>
      inStore(name, adapters[name]!, 'open it', () => adapters[name]!.open(options), 'STORE_UNAVAILABLE'),
    ),
  )
  const failure = results.find((result) => result.status === 'rejected')
  if (failure) {
    await closeStores(
      adapters,
      names.filter((_, index) => results[index]!.status === 'fulfilled'),
    )
    throw failure.reason
  }
}

/** Closes the named stores; never throws (a store that fails to close is past caring about). */
export async function closeStores(
  adapters: Readonly<Record<string, Adapter>>,
  names: readonly string[],
): Promise<void> {
  await Promise.allSettled(names.map((name) => adapters[name]!.close()))
}

/** Reads the ledgers of the named stores, one round trip each, in parallel. */
export async function readLedgers(
  adapters: Readonly<Record<string, Adapter>>,
  names: readonly string[],
): Promise<Record<string, LedgerEntry[]>> {
  const entries = await Promise.all(
    names.map((name) => inStore(name, adapters[name]!, 'read its ledger', () => adapters[name]!.ledger.read())),
  )
  return Object.fromEntries(names.map((name, index) => [name, entries[index]!]))
}
