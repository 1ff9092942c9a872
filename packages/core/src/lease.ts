import { AsyncLocalStorage } from 'node:async_hooks'
import { readFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import type { AcquireOptions, Lease, LeaseHolder } from './adapter.ts'
import { FluxError } from './errors.ts'

/** Default lease lifetime without renewal. */
export const DEFAULT_LEASE_TTL_MS = 30_000
/** Default time to wait for a lease someone else holds. */
export const DEFAULT_LEASE_WAIT_MS = 120_000

export interface CreateLeaseOptions {
  /** Lifetime without renewal, in milliseconds; the lease renews itself every third of it. */
  ttlMs: number
  /**
   * Extends the lease in the store. Resolves `false` (or rejects with `LEASE_LOST`) when the
   * lease is no longer ours; other rejections are retried until the lease would have expired.
   * A `LEASE_LOST` rejection may say why in `details.reason` ("its session ended"), shown
   * instead of "it was taken over".
   */
  renew: () => Promise<boolean>
  /** Removes the lease from the store, only if it is still ours. */
  release: () => Promise<void>
  /** Store name, for error messages. */
  store?: string
  /** The lease's fencing epoch, where the store keeps one ({@link Lease.epoch}). */
  epoch?: number
}

/**
 * Builds a {@link Lease} from an adapter's two store operations: renews it on an unref'd
 * timer, and aborts `lost` when renewal says it is gone or keeps failing past expiry.
 */
export function createLease(options: CreateLeaseOptions): Lease {
  const controller = new AbortController()
  let released = false
  let lastRenewed = Date.now()
  let renewing: Promise<void> | undefined

  const lose = (reason: string, cause?: unknown) => {
    if (controller.signal.aborted) return
    clearInterval(timer)
    controller.abort(
      new FluxError('LEASE_LOST', `lost the lease on store "${options.store ?? '?'}": ${reason}`, {
        store: options.store,
        hint: 'another runner may have taken over after the lease expired; run `flux status` before going on',
        cause,
      }),
    )
  }

  const renewOnce = async (): Promise<void> => {
    if (released) return
    if (controller.signal.aborted) throw controller.signal.reason
    let ours: boolean
    try {
      ours = await options.renew()
    } catch (error) {
      if (FluxError.is(error) && error.code === 'LEASE_LOST') {
        const reason = error.details?.reason
        lose(typeof reason === 'string' ? reason : 'it was taken over', error)
        throw controller.signal.reason
      }
      if (Date.now() - lastRenewed >= options.ttlMs) {
        lose('it could not be renewed before it expired', error)
        throw controller.signal.reason
      }
      return
    }
    if (!ours) {
      lose('it was taken over')
      throw controller.signal.reason
    }
    lastRenewed = Date.now()
  }

  const timer = setInterval(
    () => {
      renewing ??= renewOnce()
        .catch(() => {})
        .finally(() => {
          renewing = undefined
        })
    },
    Math.max(10, Math.floor(options.ttlMs / 3)),
  )
  timer.unref()

  const lease: Lease = {
    ...(options.epoch === undefined ? {} : { epoch: options.epoch }),
    lost: controller.signal,
    renew: renewOnce,
    async release() {
      if (released) return
      released = true
      clearInterval(timer)
      await renewing
      if (!controller.signal.aborted) await options.release()
    },
  }
  // For `suspendLeaseForTesting()` in `@flux/core/testing`: stops renewing, like a frozen holder.
  Object.defineProperty(lease, Symbol.for('flux.lease.suspend'), { value: () => clearInterval(timer) })
  return lease
}

/**
 * Whether the process that holds a lease is known to be gone: it ran on this host and its
 * pid no longer exists (or is a zombie nobody reaped), or it is this process's pid but the
 * lease is older than this process (a pid reused, as by pid 1 in a container). Adapters use
 * it to take over a dead runner's lease at once instead of waiting for it to expire.
 * Holders on other hosts are never judged gone. A holder judged gone while
 * {@link noticeGoneHolders} watches is reported to it.
 */
export function isHolderGone(holder: LeaseHolder): boolean {
  const gone = holderGone(holder)
  const watcher = goneHolders().getStore()
  if (gone && watcher) watcher.holder = holder
  return gone
}

function holderGone(holder: LeaseHolder): boolean {
  if (holder.host !== hostname()) return false
  if (holder.pid === process.pid) {
    // this process began after the lease was taken: the holder was another process with our pid
    const startedAt = Date.now() - process.uptime() * 1000
    return Date.parse(holder.since) < startedAt - 1000
  }
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH'
  }
  return isZombie(holder.pid)
}

/** A process that exited and that its parent has not reaped yet still answers kill(pid, 0). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
  } catch {
    // no procfs (macOS, Windows), or it exited meanwhile: kill() said it was there
    return false
  }
}

interface GoneWatcher {
  holder?: LeaseHolder | undefined
}

/**
 * What {@link isHolderGone} judged during an acquisition, carried through its async calls.
 * Kept on globalThis: an adapter may load another copy of core, and must report to this one.
 */
function goneHolders(): AsyncLocalStorage<GoneWatcher> {
  const key = Symbol.for('flux.lease.gone-holders')
  const global = globalThis as { [key]?: AsyncLocalStorage<GoneWatcher> }
  global[key] ??= new AsyncLocalStorage<GoneWatcher>()
  return global[key]
}

/**
 * Runs `acquire` (an adapter's `acquire()`) and says whose lease it took over because its
 * holder was gone ({@link isHolderGone}), so the runner can tell the user: every adapter
 * judges dead holders with that function, and this watches it without a change to their
 * contract. Only the last attempt of {@link pollForLease} counts.
 */
export async function noticeGoneHolders<T>(acquire: () => Promise<T>): Promise<{ value: T; gone?: LeaseHolder }> {
  const watcher: GoneWatcher = {}
  const value = await goneHolders().run(watcher, acquire)
  return watcher.holder ? { value, gone: watcher.holder } : { value }
}

/** Describes a holder for humans: `pid 4242 on web-1 since 2026-… (run r-…, epoch 7)`. */
export function describeHolder(holder: LeaseHolder | undefined): string {
  if (!holder) return 'an unknown holder'
  const epoch = holder.epoch === undefined ? '' : `, epoch ${holder.epoch}`
  return `pid ${holder.pid} on ${holder.host} since ${holder.since} (run ${holder.runId}${epoch})`
}

/**
 * The error of a ledger write that the store refused because this instance's lease is no longer
 * current (see "Fencing" in the adapter contract). `what` is the write, as "record app/x in the
 * ledger"; `target` is the adapter's `describe()`; `holder` is the new holder where the store
 * can tell (undefined when the lease is free again, or unreadable).
 */
export function leaseTakenOver(target: string, what: string, holder: LeaseHolder | undefined): FluxError {
  const by = holder ? `taken over by ${describeHolder(holder)}` : 'taken over by another runner (it is free again now)'
  return new FluxError('LEASE_LOST', `${target}: cannot ${what}: this runner's lease was ${by}`, {
    hint: 'this runner paused or lost its connection past the lease ttl, and the store refused its write; run `flux status` to see what the runner that took over did',
    details: holder ? { holder } : {},
  })
}

export interface PollForLeaseOptions extends AcquireOptions {
  /** One attempt: resolves a lease when taken, or the current holder when it is held. */
  attempt: () => Promise<{ lease: Lease } | { holder: LeaseHolder | undefined }>
  /** Delay between attempts, in milliseconds. Default 50, growing to 1,000. */
  intervalMs?: number
}

/**
 * The waiting loop shared by adapters whose lease is a "try once" primitive (a file created
 * exclusively, `SET NX`, a conditional insert): retries with backoff until `waitMs`, reports
 * the holder through `onWait`, and fails with `LEASE_TIMEOUT` naming the holder.
 */
export async function pollForLease(options: PollForLeaseOptions): Promise<Lease> {
  const deadline = Date.now() + options.waitMs
  let delay = options.intervalMs ?? 50
  let lastReport = 0
  for (;;) {
    if (options.signal?.aborted) {
      throw new FluxError('INTERRUPTED', `interrupted while waiting for the lease on store "${options.store}"`, {
        store: options.store,
      })
    }
    const watcher = goneHolders().getStore()
    if (watcher) watcher.holder = undefined
    const result = await options.attempt()
    if ('lease' in result) return result.lease
    if (Date.now() >= deadline) {
      throw new FluxError(
        'LEASE_TIMEOUT',
        `store "${options.store}" is leased by ${describeHolder(result.holder)}; gave up after ${Math.round(options.waitMs / 1000)}s`,
        {
          store: options.store,
          hint: `wait for that run to finish, or if it is gone run \`flux unlock ${options.store}\``,
          details: { holder: result.holder },
        },
      )
    }
    if (options.onWait && Date.now() - lastReport >= 1000) {
      lastReport = Date.now()
      options.onWait(result.holder)
    }
    const jitter = Math.random() * delay * 0.5
    await sleep(Math.min(delay + jitter, Math.max(0, deadline - Date.now())), undefined, {
      signal: options.signal,
    }).catch(() => {})
    delay = Math.min(delay * 2, 1000)
  }
}
