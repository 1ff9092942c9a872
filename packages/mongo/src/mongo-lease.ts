import { randomUUID } from 'node:crypto'
import { type AcquireOptions, createLease, isHolderGone, type Lease, type LeaseHolder, pollForLease } from '@flux/core'
import type { Db } from 'mongodb'
import { codeOf, DUPLICATE_KEY, type MongoSettings, storeError } from './mongo-options.ts'

const LEASE_ID = 'lease'

interface LockDocument {
  _id: string
  token: string
  holder: LeaseHolder
  expiresAt: Date
}

export interface MongoLease {
  acquire(options: AcquireOptions): Promise<Lease>
  inspect(): Promise<LeaseHolder | undefined>
  breakLease(): Promise<LeaseHolder | undefined>
}

/**
 * The lease: one document `{ _id: 'lease', token, holder, expiresAt }` in `lockCollection`.
 * `now()` is the server's clock as estimated at `open()` (from `hello.localTime`), so that
 * runners on hosts whose clocks disagree still agree on when a lease expires.
 */
export function mongoLease(settings: MongoSettings, database: () => Db, now: () => number): MongoLease {
  const collection = () => database().collection<LockDocument>(settings.lockCollection)

  const shown = (document: LockDocument | null): LeaseHolder | undefined => {
    if (!document) return undefined
    const holder = document.holder ?? { host: 'unknown', pid: 0, runId: 'unknown', since: 'unknown' }
    const expires = document.expiresAt instanceof Date ? document.expiresAt.toISOString() : undefined
    return expires ? { ...holder, expiresAt: expires } : holder
  }

  const leaseFor = (store: string, token: string, ttlMs: number): Lease =>
    createLease({
      ttlMs,
      store,
      async renew() {
        try {
          const result = await collection().updateOne(
            { _id: LEASE_ID, token },
            { $set: { expiresAt: new Date(now() + ttlMs) } },
          )
          return result.matchedCount === 1
        } catch (error) {
          throw storeError(settings, 'renew the lease', error)
        }
      },
      async release() {
        try {
          // only our own token: after a take-over, the new holder's document stays
          await collection().deleteOne({ _id: LEASE_ID, token })
        } catch (error) {
          throw storeError(settings, 'release the lease', error)
        }
      },
    })

  const attempt = async (options: AcquireOptions): Promise<{ lease: Lease } | { holder: LeaseHolder | undefined }> => {
    const token = randomUUID()
    const document = () => ({ token, holder: options.holder, expiresAt: new Date(now() + options.ttlMs) })
    try {
      for (let tries = 0; tries < 3; tries++) {
        // the lock primitive: the unique _id lets exactly one insert of the lease document win
        try {
          await collection().insertOne({ _id: LEASE_ID, ...document() })
          return { lease: leaseFor(options.store, token, options.ttlMs) }
        } catch (error) {
          if (codeOf(error) !== DUPLICATE_KEY) throw error
        }
        const current = await collection().findOne({ _id: LEASE_ID })
        if (!current) continue // released meanwhile: insert again
        const expired = !(current.expiresAt instanceof Date) || current.expiresAt.getTime() < now()
        const gone = current.holder !== undefined && isHolderGone(current.holder)
        if (!expired && !gone) return { holder: shown(current) }
        // take-over: compare-and-swap on the token we saw, so one competitor wins
        const swapped = await collection().updateOne({ _id: LEASE_ID, token: current.token }, { $set: document() })
        if (swapped.matchedCount === 1) return { lease: leaseFor(options.store, token, options.ttlMs) }
      }
      return { holder: shown(await collection().findOne({ _id: LEASE_ID })) }
    } catch (error) {
      throw storeError(settings, 'take the lease', error)
    }
  }

  return {
    acquire: (options) => pollForLease({ ...options, attempt: () => attempt(options) }),

    async inspect() {
      try {
        return shown(await collection().findOne({ _id: LEASE_ID }))
      } catch (error) {
        throw storeError(settings, 'read the lease', error)
      }
    },

    async breakLease() {
      try {
        return shown(await collection().findOneAndDelete({ _id: LEASE_ID }))
      } catch (error) {
        throw storeError(settings, 'break the lease', error)
      }
    },
  }
}
