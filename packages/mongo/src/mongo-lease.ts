import { randomUUID } from 'node:crypto'
import {
  type AcquireOptions,
  createLease,
  FluxError,
  isHolderGone,
  type Lease,
  type LeaseHolder,
  pollForLease,
} from '@flux/core'
import type { Db } from 'mongodb'
import { type FenceState, holderOf, type LockDocument, lockId, type MongoFence } from './mongo-fence.ts'
import { codeOf, DUPLICATE_KEY, type MongoSettings, storeError } from './mongo-options.ts'

export interface MongoLease {
  acquire(options: AcquireOptions): Promise<Lease>
  inspect(): Promise<LeaseHolder | undefined>
  breakLease(): Promise<LeaseHolder | undefined>
}

/**
 * The lease: the document of the highest epoch in `lockCollection` (see `LockDocument`).
 * `now()` is the server's clock as estimated at `open()` (from `hello.localTime`), so that
 * runners on hosts whose clocks disagree still agree on when a lease expires.
 */
export function mongoLease(
  settings: MongoSettings,
  database: () => Db,
  now: () => number,
  fence: MongoFence,
  state: FenceState,
): MongoLease {
  const collection = () => database().collection<LockDocument>(settings.lockCollection)

  const leaseFor = (store: string, token: string, epoch: number, ttlMs: number): Lease =>
    createLease({
      ttlMs,
      store,
      epoch,
      async renew() {
        try {
          const result = await collection().updateOne(
            { _id: lockId(epoch), token },
            { $set: { expiresAt: new Date(now() + ttlMs) } },
          )
          return result.matchedCount === 1
        } catch (error) {
          throw storeError(settings, 'renew the lease', error)
        }
      },
      async release() {
        try {
          // the document stays, so the next epoch is known; after a take-over it is gone
          const result = await collection().updateOne(
            { _id: lockId(epoch), token },
            { $unset: { token: true, holder: true, expiresAt: true, block: true } },
          )
          // taken over or broken: this instance stays fenced
          if (result.matchedCount === 1 && state.held?.token === token) state.held = undefined
        } catch (error) {
          throw storeError(settings, 'release the lease', error)
        }
      },
    })

  /**
   * Takes `epoch`, or resolves false when another competitor has it. The lock primitive is the
   * insert: the unique _id lets one competitor win each epoch, on every server (FerretDB
   * applies conditional updates without atomicity, but inserts are atomic). The winner then
   * empties or deletes the older documents, each read in the same operation, and fences what
   * their holders may still be writing.
   */
  const claim = async (epoch: number, fields: Omit<LockDocument, '_id' | 'epoch'>): Promise<boolean> => {
    const id = lockId(epoch)
    try {
      await collection().insertOne({ _id: id, epoch, ...fields })
    } catch (error) {
      if (codeOf(error) === DUPLICATE_KEY) return false
      throw error
    }
    const others = await collection()
      .find({ _id: { $ne: id } }, { projection: { epoch: 1, token: 1 } })
      .toArray()
    if (others.some((other) => other.epoch > epoch)) {
      // the number of a lease already superseded and deleted (the latest was read long ago)
      await collection().deleteOne({ _id: id })
      return false
    }
    for (const other of others) {
      // the lease taken over stays as the record of who took it; the rest goes
      const superseded =
        other.token !== undefined && fields.holder !== undefined
          ? await collection().findOneAndUpdate(
              { _id: other._id },
              {
                $unset: { token: true, holder: true, expiresAt: true, block: true },
                $set: { takenOverBy: { ...fields.holder, epoch } },
              },
              { returnDocument: 'before' },
            )
          : await collection().findOneAndDelete({ _id: other._id })
      if (superseded?.block) await fence.fenceBlock(superseded.block, superseded.epoch)
    }
    return true
  }

  const attempt = async (options: AcquireOptions): Promise<{ lease: Lease } | { holder: LeaseHolder | undefined }> => {
    const token = randomUUID()
    try {
      for (let tries = 0; tries < 3; tries++) {
        const latest = await fence.latest()
        if (latest?.token !== undefined) {
          const expired = !(latest.expiresAt instanceof Date) || latest.expiresAt.getTime() < now()
          const gone = latest.holder !== undefined && isHolderGone(latest.holder)
          if (!expired && !gone) return { holder: holderOf(latest) }
        }
        // free, released, expired or its holder gone: the next epoch is the lease
        const epoch = latest ? latest.epoch + 1 : await fence.firstEpoch()
        if (await claim(epoch, { token, holder: options.holder, expiresAt: new Date(now() + options.ttlMs) })) {
          state.held = { token, epoch }
          return { lease: leaseFor(options.store, token, epoch, options.ttlMs) }
        }
      }
      return { holder: holderOf(await fence.latest()) }
    } catch (error) {
      throw storeError(settings, 'take the lease', error)
    }
  }

  return {
    acquire: (options) => pollForLease({ ...options, attempt: () => attempt(options) }),

    async inspect() {
      try {
        return holderOf(await fence.latest())
      } catch (error) {
        throw storeError(settings, 'read the lease', error)
      }
    },

    async breakLease() {
      try {
        for (let tries = 0; tries < 3; tries++) {
          const latest = await fence.latest()
          if (latest?.token === undefined) return undefined
          // a break is a take-over by nobody: the next epoch, free
          if (await claim(latest.epoch + 1, {})) return holderOf(latest)
        }
        throw new FluxError(
          'STORE_ERROR',
          `${settings.description}: the lease changed hands while it was being broken`,
          {
            hint: 'another runner is taking it right now; run `flux unlock` again if it is still held',
          },
        )
      } catch (error) {
        throw storeError(settings, 'break the lease', error)
      }
    },
  }
}
