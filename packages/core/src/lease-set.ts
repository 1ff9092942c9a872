import { hostname } from 'node:os'
import type { Lease } from './adapter.ts'
import type { FluxEventListener } from './events.ts'
import { DEFAULT_LEASE_TTL_MS, DEFAULT_LEASE_WAIT_MS, noticeGoneHolders } from './lease.ts'
import type { Project } from './project.ts'
import { inStore } from './stores.ts'

/**
 * Takes the leases of the named stores, always in sorted order so that two runners that
 * need overlapping stores cannot deadlock; on a failure releases those it took.
 */
export async function acquireLeases(
  project: Project,
  names: readonly string[],
  runId: string,
  options: { signal?: AbortSignal | undefined; onEvent?: FluxEventListener | undefined } = {},
): Promise<Map<string, Lease>> {
  const emit = options.onEvent ?? (() => {})
  const leases = new Map<string, Lease>()
  const holder = { host: hostname(), pid: process.pid, runId, since: new Date().toISOString() }
  try {
    for (const name of [...names].sort()) {
      const adapter = project.adapters[name]!
      const { value: lease, gone } = await inStore(name, adapter, 'take its lease', () =>
        noticeGoneHolders(() =>
          adapter.acquire({
            store: name,
            ttlMs: project.lease.ttlMs ?? DEFAULT_LEASE_TTL_MS,
            waitMs: project.lease.waitMs ?? DEFAULT_LEASE_WAIT_MS,
            holder,
            onWait: (current) => emit({ type: 'lease-wait', store: name, holder: current }),
            ...(options.signal ? { signal: options.signal } : {}),
          }),
        ),
      )
      leases.set(name, lease)
      if (gone) emit({ type: 'lease-takeover', store: name, holder: gone })
      emit({ type: 'lease-acquired', store: name })
    }
  } catch (error) {
    await releaseLeases(leases, emit)
    throw error
  }
  return leases
}

/** Releases leases, newest first. */
export async function releaseLeases(leases: Map<string, Lease>, emit: FluxEventListener = () => {}): Promise<void> {
  for (const [name, lease] of [...leases].reverse()) {
    try {
      await lease.release()
      emit({ type: 'lease-released', store: name })
    } catch {
      // the lease expires by itself; a release failure must not hide the run's own outcome
    }
  }
  leases.clear()
}

/** Runs `body` while holding the leases of the named stores. */
export async function withLeases<T>(
  project: Project,
  names: readonly string[],
  runId: string,
  body: () => Promise<T>,
): Promise<T> {
  const leases = await acquireLeases(project, names, runId)
  try {
    return await body()
  } finally {
    await releaseLeases(leases)
  }
}
