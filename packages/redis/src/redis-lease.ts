import { randomUUID } from 'node:crypto'
import { type AcquireOptions, createLease, isHolderGone, type Lease, type LeaseHolder, pollForLease } from '@flux/core'
import { type RedisContext, redisError } from './redis-options.ts'
import { ACQUIRE_LEASE, RELEASE_LEASE, RENEW_LEASE, runScript, type Script, TAKE_OVER_LEASE } from './redis-scripts.ts'

export interface RedisLease {
  acquire(options: AcquireOptions): Promise<Lease>
  inspect(): Promise<LeaseHolder | undefined>
  breakLease(): Promise<LeaseHolder | undefined>
}

/** What the lease key holds: a random token (so every value is unique), the holder and the ttl. */
interface LeaseValue {
  token: string
  holder: LeaseHolder
  ttlMs: number
}

/**
 * The lease: one string key, taken with `SET NX PX` (Redis expires it by itself when it is not
 * renewed), renewed and released by compare-and-set scripts on its exact value.
 */
export function redisLease(context: RedisContext): RedisLease {
  const key = context.keys.lease
  const run = async (action: string, script: Script, args: (string | number)[]) => {
    try {
      return await runScript(context.connection(), script, [key], args)
    } catch (error) {
      throw redisError(context, action, error)
    }
  }

  const attempt = async (options: AcquireOptions) => {
    const { ttlMs } = options
    const value = JSON.stringify({ token: randomUUID(), holder: options.holder, ttlMs } satisfies LeaseValue)
    const [taken, current, pttl] = (await run('take the lease', ACQUIRE_LEASE, [value, ttlMs])) as [
      number,
      string | null,
      number | null,
    ]
    let ours = taken === 1
    if (!ours && current !== null) {
      const holder = parseLease(current)?.holder
      // a runner of this host whose pid is gone will never release: take its lease now, not after ttl
      if (holder && isHolderGone(holder)) {
        ours = (await run('take over the lease of a dead runner', TAKE_OVER_LEASE, [current, value, ttlMs])) === 1
      }
      if (!ours) return { holder: shown(current, pttl) }
    }
    // it expired between SET NX and GET: the next attempt takes it
    if (!ours) return { holder: undefined }
    context.heldLease = value
    const lease = createLease({
      ttlMs,
      store: options.store,
      renew: async () => (await run('renew the lease', RENEW_LEASE, [value, ttlMs])) === 1,
      release: async () => {
        if (context.heldLease === value) context.heldLease = undefined
        await run('release the lease', RELEASE_LEASE, [value])
      },
    })
    return { lease }
  }

  return {
    acquire: (options) => pollForLease({ ...options, attempt: () => attempt(options) }),

    async inspect() {
      let replies: [Error | null, unknown][] | null
      try {
        replies = await context.connection().pipeline().get(key).pttl(key).exec()
      } catch (error) {
        throw redisError(context, 'read the lease', error)
      }
      const [[getError, current], [pttlError, pttl]] = replies as [[Error | null, unknown], [Error | null, unknown]]
      if (getError || pttlError) throw redisError(context, 'read the lease', getError ?? pttlError)
      return typeof current === 'string' ? shown(current, pttl as number) : undefined
    },

    async breakLease() {
      let current: string | null
      try {
        current = await context.connection().getdel(key)
      } catch (error) {
        throw redisError(context, 'break the lease', error)
      }
      if (current !== null && current === context.heldLease) context.heldLease = undefined
      return current === null ? undefined : shown(current, null)
    },
  }
}

function parseLease(value: string): LeaseValue | undefined {
  try {
    const parsed = JSON.parse(value) as Partial<LeaseValue>
    const holder = parsed.holder
    if (typeof holder?.host === 'string' && typeof holder.pid === 'number') return parsed as LeaseValue
  } catch {}
  return undefined
}

/** The holder of a lease value, with `expiresAt` from its remaining ttl; a stranger's value shows as unknown. */
function shown(value: string, pttl: number | null): LeaseHolder {
  const holder = parseLease(value)?.holder ?? { host: 'unknown', pid: 0, runId: 'unknown', since: 'unknown' }
  const { host, pid, runId, since } = holder
  return typeof pttl === 'number' && pttl >= 0
    ? { host, pid, runId, since, expiresAt: new Date(Date.now() + pttl).toISOString() }
    : { host, pid, runId, since }
}
