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
import { isConflict, isNotFound, type S3Target, storeError } from './s3-options.ts'

/** `lease.json` while held. Every renewal changes `renewals`, so its ETag changes too. */
interface HeldDocument {
  version: 1
  token: string
  holder: LeaseHolder
  ttlMs: number
  renewedAt: string
  renewals: number
}

/** `lease.json` as read: `held` is absent when it was released (or broken). */
interface CurrentLease {
  etag: string
  held: HeldDocument | undefined
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
 */
export function s3Lease(target: S3Target): S3Lease {
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
        held: parseHeld(text, response.ETag!),
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

  const released = () => ({ version: 1, released: true, releasedAt: new Date().toISOString() })

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
      const take = (etag: string) => {
        let current = etag
        const lease = createLease({
          ttlMs: options.ttlMs,
          store: options.store,
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
              if ((await write(released(), current)) !== undefined) return
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
          if (current === undefined) {
            const etag = await write(document, undefined)
            return etag === undefined ? { holder: undefined } : take(etag)
          }
          const { held } = current
          if (held?.token === token) return take(current.etag)
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
      for (let attempt = 0; attempt < 10; attempt++) {
        const current = await read()
        if (current?.held === undefined) return undefined
        if ((await write(released(), current.etag)) !== undefined) return shown(current.held)
      }
      throw storeError(target, `break the lease ${target.leaseKey}`, new Error('it kept changing'))
    },
  }
}

function shown(held: HeldDocument): LeaseHolder {
  return { ...held.holder, expiresAt: new Date(Date.parse(held.renewedAt) + held.ttlMs).toISOString() }
}

/** The held lease in `lease.json`; a "released" object gives `undefined`, a garbled one an unknown holder. */
function parseHeld(text: string, etag: string): HeldDocument | undefined {
  let data: Partial<HeldDocument> & { released?: boolean }
  try {
    data = JSON.parse(text)
  } catch {
    data = {}
  }
  if (data.released === true) return undefined
  if (typeof data.token === 'string' && typeof data.ttlMs === 'number' && typeof data.holder === 'object') {
    return data as HeldDocument
  }
  // hand-edited or garbled: held by nobody we know, taken over once it stays unchanged for the default ttl
  const since = new Date(0).toISOString()
  return {
    version: 1,
    token: `unreadable-${etag}`,
    holder: { host: 'unknown', pid: 0, runId: 'unknown', since },
    ttlMs: DEFAULT_LEASE_TTL_MS,
    renewedAt: since,
    renewals: 0,
  }
}
