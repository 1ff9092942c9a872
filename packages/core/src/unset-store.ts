import type { Adapter, Capabilities, MigrationFileLoader } from './adapter.ts'
import { FluxError } from './errors.ts'

const unset = new WeakMap<Adapter, FluxError>()

/**
 * What an adapter's factory returns when a setting it needs to reach its store is missing
 * (`pgStore({ url: process.env.DATABASE_URL })` with `DATABASE_URL` unset): a store that is
 * known by kind, so that commands that never open it (`flux new`, `sum`, `heads`, `merge`,
 * `graph`) work, and that fails with `error` at `open()`. `loadProject` reports `error` as if
 * the factory had thrown it, naming the store and the unset variable, unless asked not to.
 * An error that is not a missing setting (`details.missing`, see the adapter contract) is
 * thrown at once.
 */
export function unsetStore<Client = unknown>(
  error: unknown,
  parts: { kind: string; capabilities: Capabilities; migrationFiles?: MigrationFileLoader },
): Adapter<Client> {
  if (!FluxError.is(error) || !Array.isArray(error.details?.missing)) throw error
  const fail = async (): Promise<never> => {
    throw error
  }
  const adapter: Adapter<Client> = {
    specVersion: 'v1',
    kind: parts.kind,
    capabilities: parts.capabilities,
    ...(parts.migrationFiles ? { migrationFiles: parts.migrationFiles } : {}),
    open: fail,
    close: async () => {},
    describe: () => `${parts.kind} store (not configured: ${error.message})`,
    client: () => {
      throw error
    },
    ledger: { read: fail, record: fail, remove: fail },
    acquire: fail,
    inspectLease: fail,
    breakLease: fail,
  }
  unset.set(adapter, error)
  return adapter
}

/** The error of a store made by {@link unsetStore}: what its factory was missing. */
export function unsetStoreError(adapter: Adapter): FluxError | undefined {
  return unset.get(adapter)
}
