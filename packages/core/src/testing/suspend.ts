import type { Lease } from '../adapter.ts'

const SUSPEND = Symbol.for('flux.lease.suspend')

/**
 * Stops the renewal timer of a lease built by `createLease()`, as if its holder froze (a
 * stopped VM, a debugger, a blocked event loop): the lease then expires after `ttlMs`
 * and can be taken over. For tests only.
 */
export function suspendLeaseForTesting(lease: Lease): void {
  const suspend = (lease as unknown as Record<symbol, unknown>)[SUSPEND]
  if (typeof suspend !== 'function') {
    throw new TypeError(
      'suspendLeaseForTesting: this lease was not built with createLease() from @flux/core; build adapter leases with createLease()',
    )
  }
  suspend.call(lease)
}
