import { randomUUID } from 'node:crypto'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import {
  type AcquireOptions,
  createLease,
  DEFAULT_LEASE_TTL_MS,
  isHolderGone,
  type Lease,
  type LeaseHolder,
  pollForLease,
} from '@flux/core'
import type { Fence, S3Fencing } from './s3-ledger.ts'
import { isConflict, isNotFound, type S3Target, storeError } from './s3-options.ts'

/** `lease.json` while held. Every renewal changes `renewals`, so its ETag changes too. */
interface HeldDocument {
  version: 1
  token: string
  holder: LeaseHolder
  ttlMs: number
  renewedAt: string
  renewals: number
  /** The fencing epoch of this acquisition; a "released" object keeps the last one, for the next. */
  epoch?: number
}

/** `lease.json` as read: `held` is absent when it was released (or broken). */
interface CurrentLease {
  etag: string
  held: HeldDocument | undefined
  /** The epoch of the last acquisition (or break), held or released. */
  epoch: number | undefined
  /** Server time since the object was last written, from its `Last-Modified` and the response's `Date`. */
  ageMs: number | undefined
}

export interface S3Lease {
  acquire(options: AcquireOptions): Promise<Lease>
  inspect(): Promise<LeaseHolder | undefined>
  breakLease(): Promise<LeaseHolder | undefined>
}

/**
 * The lease: `<prefix>.flux/lease.json`, changed only by conditional writes, which S3 applies
 * atomically: created with `If-None-Match: *`; renewed, taken over and released with
 * `If-Match: <the ETag it was seen with>`. Releasing (or breaking) writes a "released" object
 * rather than deleting: a delete cannot be made conditional on every server (MinIO ignores
 * `If-Match` on DeleteObject), and an unconditional delete could remove a lease that someone
 * took over a moment before. The object stays, a few bytes.
 *
 * Fencing: once its conditional write has won the lease, an acquisition moves the ledger's fence
 * to its token before it returns (see `s3Ledger`), and a break moves it to a token of nobody's
 * before it frees the lease, so no one can take the lease in between and be fenced out by it.
 * The epoch counts in the lease object, whose compare-and-swap gives each acquisition its own.
 */
export function s3Lease(target: S3Target, fencing: S3Fencing): S3Lease {
  const read = async (): Promise<CurrentLease | undefined> => {
    const command = new GetObjectCommand({ Bucket: target.bucket, Key: target.leaseKey })
    let serverDate: string | undefined
    // the SDK does not return the response's Date header: pick it up on the way
    command.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args)
        serverDate = (result.response as { headers?: Record<string, string> }).headers?.date
        return result
      },
      { step: 'deserialize', name: 'fluxServerDate' },
    )
    try {
      const response = await target.sdk().send(command)
      const text = await response.Body!.transformToString('utf8')
      const written = response.LastModified?.getTime()
      const now = serverDate === undefined ? Number.NaN : Date.parse(serverDate)
      return {
        etag: response.ETag!,
        ...parseLease(text, response.ETag!),
        ageMs: written !== undefined && Number.isFinite(now) ? now - written : undefined,
      }
    } catch (error) {
      if (isNotFound(error)) return undefined
      throw storeError(target, `read the lease ${target.leaseKey}`, error)
    }
  }

  /** Writes `lease.json` if it is still as seen (`etag`), or absent (`undefined`); its new ETag, or undefined when it was not. */
  const write = async (body: object, etag: string | undefined): Promise<string | undefined> => {
    try {
      const response = await target.sdk().send(
        new PutObjectCommand({
          Bucket: target.bucket,
          Key: target.leaseKey,
          Body: JSON.stringify(body),
          ContentType: 'application/json',
          ...(etag === undefined ? { IfNoneMatch: '*' } : { IfMatch: etag }),
        }),
      )
      return response.ETag
    } catch (error) {
      if (isConflict(error) || isNotFound(error)) return undefined
      throw storeError(target, `write the lease ${target.leaseKey}`, error)
    }
  }

  const released = (epoch: number | undefined) => ({
    version: 1,
    released: true,
    releasedAt: new Date().toISOString(),
    epoch,
  })

  return {
    async acquire(options) {
      // one token for the whole wait: a write whose response was lost is recognised as ours
      const token = randomUUID()
      // the waiter's own clock: a lease whose ETag stays the same for its ttl was not renewed
      let observed: { etag: string; at: number } | undefined
      const document: HeldDocument = {
        version: 1,
        token,
        holder: options.holder,
        ttlMs: options.ttlMs,
        renewedAt: new Date().toISOString(),
        renewals: 0,
      }
      // S3 cannot write two objects as one: a runner that froze past its ttl between winning the lease and
      // moving the fence fences out whoever took over meanwhile. Still one writer at a time: that one is
      // refused from then on, and this one loses the lease at its next renewal.
      const take = async (etag: string) => {
        let fence: Fence
        try {
          fence = await fencing.move({ token, epoch: document.epoch ?? 1, holder: options.holder })
        } catch (error) {
          // no lease without its fence: give the lease back rather than leave it to expire
          await write(released(document.epoch), etag).catch(() => {})
          throw error
        }
        document.epoch = fence.epoch
        fencing.held = token
        let current = etag
        const lease = createLease({
          ttlMs: options.ttlMs,
          store: options.store,
          epoch: fence.epoch,
          renew: async () => {
            document.renewals += 1
            document.renewedAt = new Date().toISOString()
            const next = await write(document, current)
            if (next !== undefined) current = next
            else {
              // taken over or broken, unless our write did land and only its response was lost
              const seen = await read()
              if (seen?.held?.token !== token) return false
              current = seen.etag
            }
            return true
          },
          release: async () => {
            for (let attempt = 0; attempt < 3; attempt++) {
              if ((await write(released(document.epoch), current)) !== undefined) {
                // ours until now: this instance writes unconditionally again. A lease taken over stays fenced.
                if (fencing.held === token) fencing.held = undefined
                return
              }
              const seen = await read()
              if (seen?.held?.token !== token) return
              current = seen.etag
            }
          },
        })
        return { lease }
      }

      return pollForLease({
        ...options,
        attempt: async () => {
          document.renewedAt = new Date().toISOString()
          const current = await read()
          if (current?.held?.token === token) return take(current.etag)
          document.epoch = (current?.epoch ?? 0) + 1
          if (current === undefined) {
            const etag = await write(document, undefined)
            return etag === undefined ? { holder: undefined } : take(etag)
          }
          const { held } = current
          if (held !== undefined) {
            if (observed?.etag !== current.etag) observed = { etag: current.etag, at: performance.now() }
            // Last-Modified and Date have whole seconds: one more second makes sure it is really older than its ttl
            const expired =
              performance.now() - observed.at >= held.ttlMs ||
              (current.ageMs !== undefined && current.ageMs > held.ttlMs + 1_000)
            if (!expired && !isHolderGone(held.holder)) return { holder: shown(held) }
          }
          const etag = await write(document, current.etag)
          return etag === undefined ? { holder: held && shown(held) } : take(etag)
        },
      })
    },

    async inspect() {
      const current = await read()
      return current?.held && shown(current.held)
    },

    async breakLease() {
      let broken: LeaseHolder | undefined
      for (let attempt = 0; attempt < 10; attempt++) {
        const current = await read()
        if (current?.held === undefined) return broken
        broken = shown(current.held)
        // the fence first, while the lease still keeps everyone else out
        const fence = await fencing.move({ token: randomUUID(), epoch: (current.epoch ?? 0) + 1 })
        if ((await write(released(fence.epoch), current.etag)) !== undefined) return broken
      }
      throw storeError(target, `break the lease ${target.leaseKey}`, new Error('it kept changing'))
    },
  }
}

function shown(held: HeldDocument): LeaseHolder {
  const expiresAt = new Date(Date.parse(held.renewedAt) + held.ttlMs).toISOString()
  return { ...held.holder, expiresAt, ...(held.epoch === undefined ? {} : { epoch: held.epoch }) }
}

/**
 * The held lease in `lease.json` and the last epoch; a "released" object holds no lease, a
 * garbled one is held by an unknown holder.
 */
function parseLease(text: string, etag: string): Pick<CurrentLease, 'held' | 'epoch'> {
  let data: Partial<HeldDocument> & { released?: boolean }
  try {
    data = JSON.parse(text)
  } catch {
    data = {}
  }
  const epoch = typeof data.epoch === 'number' ? data.epoch : undefined
  if (data.released === true) return { held: undefined, epoch }
  if (typeof data.token === 'string' && typeof data.ttlMs === 'number' && typeof data.holder === 'object') {
    return { held: data as HeldDocument, epoch }
  }
  // hand-edited or garbled: held by nobody we know, taken over once it stays unchanged for the default ttl
  const since = new Date(0).toISOString()
  const held: HeldDocument = {
    version: 1,
    token: `unreadable-${etag}`,
    holder: { host: 'unknown', pid: 0, runId: 'unknown', since },
    ttlMs: DEFAULT_LEASE_TTL_MS,
    renewedAt: since,
    renewals: 0,
  }
  return { held, epoch }
}
