import { randomUUID } from 'node:crypto'
import { type AcquireOptions, createLease, isHolderGone, type Lease, type LeaseHolder, pollForLease } from '@flux/core'
import { type RedisContext, redisError } from './redis-options.ts'
import {
  ACQUIRE_LEASE,
  BREAK_LEASE,
  RELEASE_LEASE,
  RENEW_LEASE,
  runScript,
  type Script,
  TAKE_OVER_LEASE,
} from './redis-scripts.ts'

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
 * renewed), renewed and released by compare-and-set scripts on its exact value. Its value is the
 * fencing token the ledger scripts check; the epoch key counts acquisitions, take-overs and breaks.
 */
export function redisLease(context: RedisContext): RedisLease {
  const { keys } = context
  const run = async (action: string, script: Script, args: (string | number)[]) => {
    try {
      return await runScript(context.connection(), script, [keys.lease, keys.epoch, keys.taker], args)
    } catch (error) {
      throw redisError(context, action, error)
    }
  }

  const attempt = async (options: AcquireOptions) => {
    const { ttlMs } = options
    const value = JSON.stringify({ token: randomUUID(), holder: options.holder, ttlMs } satisfies LeaseValue)
    const reply = (await run('take the lease', ACQUIRE_LEASE, [value, ttlMs])) as
      | [1, number]
      | [0, string | null, number | null, string | null]
    let epoch = reply[0] === 1 ? reply[1] : 0
    if (reply[0] === 0) {
      const [, current, pttl, currentEpoch] = reply
      // it expired between SET NX and GET: the next attempt takes it
      if (current === null) return { holder: undefined }
      const holder = parseLease(current)?.holder
      // a runner of this host whose pid is gone will never release: take its lease now, not after ttl
      if (holder && isHolderGone(holder)) {
        epoch = (await run('take over the lease of a dead runner', TAKE_OVER_LEASE, [current, value, ttlMs])) as number
      }
      if (epoch === 0) return { holder: holderOf(current, pttl, currentEpoch) }
    }
    context.heldLease = { value, epoch }
    const lease = createLease({
      ttlMs,
      store: options.store,
      epoch,
      renew: async () => (await run('renew the lease', RENEW_LEASE, [value, ttlMs])) === 1,
      release: async () => {
        const released = await run('release the lease', RELEASE_LEASE, [value])
        // ours until now: this instance writes unconditionally again; a lease taken over or broken stays fenced
        if (released === 1 && context.heldLease?.value === value) context.heldLease = undefined
      },
    })
    return { lease }
  }

  return {
    acquire: (options) => pollForLease({ ...options, attempt: () => attempt(options) }),

    async inspect() {
      let replies: [Error | null, unknown][] | null
      try {
        replies = await context.connection().pipeline().get(keys.lease).pttl(keys.lease).get(keys.epoch).exec()
      } catch (error) {
        throw redisError(context, 'read the lease', error)
      }
      const failed = replies?.find(([error]) => error)?.[0]
      if (!replies || failed) throw redisError(context, 'read the lease', failed ?? new Error('no reply'))
      const [current, pttl, epoch] = replies.map(([, result]) => result) as [string | null, number, string | null]
      return current === null ? undefined : holderOf(current, pttl, epoch)
    },

    async breakLease() {
      const broken = (await run('break the lease', BREAK_LEASE, [])) as [string, string | null] | null
      return broken === null ? undefined : holderOf(broken[0], null, broken[1])
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

/**
 * The holder of a lease value, with `expiresAt` from its remaining ttl and its epoch where known;
 * a stranger's value shows as unknown.
 */
export function holderOf(value: string, pttl: number | null, epoch: string | number | null): LeaseHolder {
  const { host, pid, runId, since } = parseLease(value)?.holder ?? {
    host: 'unknown',
    pid: 0,
    runId: 'unknown',
    since: 'unknown',
  }
  return {
    host,
    pid,
    runId,
    since,
    ...(typeof pttl === 'number' && pttl >= 0 ? { expiresAt: new Date(Date.now() + pttl).toISOString() } : {}),
    ...(epoch === null ? {} : { epoch: Number(epoch) }),
  }
}
