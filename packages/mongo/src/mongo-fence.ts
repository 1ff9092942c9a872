import { type LeaseHolder, leaseTakenOver } from '@flux/core'
import type { ClientSession, Db, Document } from 'mongodb'
import { codeOf, DUPLICATE_KEY, type MongoSettings } from './mongo-options.ts'

/**
 * One lease document in `lockCollection` per fencing epoch, `_id: 'lease-<epoch>'`. The one with
 * the highest epoch is the lease. A holder that takes it over keeps the one it replaced, emptied,
 * as the record of who took it over (for its old holder's errors), and deletes older ones. A
 * release keeps its document, without a token, so the next epoch is still known.
 */
export interface LockDocument {
  _id: string
  /** The fencing epoch: each acquisition, take-over and break inserts the next one. */
  epoch: number
  /** The holder's fencing token; absent once the lease is released or broken. */
  token?: string
  holder?: LeaseHolder
  expiresAt?: Date
  /**
   * The ledger numbers the holder may write events under, first and last (see {@link mongoFence}):
   * the next holder fences those it did not use.
   */
  block?: [number, number]
  /** Last time a transaction committed under the lease (see `checkInTransaction`). */
  checkedAt?: Date
  /** Who took this lease over, once it has been. */
  takenOverBy?: LeaseHolder
}

export const lockId = (epoch: number) => `lease-${epoch}`

/** The lease an adapter instance writes under, from its acquire() until its own release(). */
export interface HeldLease {
  token: string
  epoch: number
}

/** Shared by one adapter instance's lease and ledgers. */
export interface FenceState {
  held: HeldLease | undefined
}

/**
 * Any document of the ledger collection: an event, the counter, a fence marker, or an entry or
 * placeholder that an earlier version of flux wrote in place (see `mongoLedger`).
 */
export interface EntryDocument extends Document {
  _id: string
}

/** The `_id` of the ledger event numbered `seq`; never a migration id, which always has a `/`. */
export const eventId = (seq: number) => `#${seq}`

/**
 * How fencing works without multi-document transactions. Every ledger write is an insert of an
 * event whose `_id` carries its number (`eventId`), and the `_id` index is unique on every
 * server. A holder takes numbers from the counter a block at a time and, before it uses any,
 * names the block in its lease document on condition that its token is still there. A take-over
 * (or a break) inserts the next epoch's lease document, empties the older one, reading its block
 * in the same operation, and inserts a marker under every number of that block before the new
 * lease is returned. So a stale holder's write either lands before the take-over, or fails to
 * register its block, or — begun before, landing after — finds its `_id` taken by a marker.
 * Inserts are also what FerretDB (1.x, SQLite) does without reading the collection: it looks up
 * no document by `_id` through the index, so an update there costs a scan of the ledger.
 */
export function mongoFence(settings: MongoSettings, database: () => Db) {
  const locks = () => database().collection<LockDocument>(settings.lockCollection)
  const ledger = () => database().collection<EntryDocument>(settings.ledgerCollection)

  /** The latest lease document: held, free, or expired. */
  const latest = () => locks().findOne({ epoch: { $exists: true } }, { sort: { epoch: -1 } })

  /** LEASE_LOST for a refused write of `held`, naming who took it over (or holds the lease now). */
  const lost = async (held: HeldLease, what: string): Promise<Error> => {
    const [own, current] = await Promise.all([locks().findOne({ _id: lockId(held.epoch) }), latest()]).catch(() => [])
    return leaseTakenOver(settings.description, what, own?.takenOverBy ?? holderOf(current ?? null))
  }

  return {
    latest,
    lost,

    /** Names `[first, last]` as the numbers `held` writes under next, or rejects LEASE_LOST. */
    async registerBlock(held: HeldLease, block: [number, number], what: string): Promise<void> {
      const result = await locks().updateOne({ _id: lockId(held.epoch), token: held.token }, { $set: { block } })
      if (result.matchedCount === 0) throw await lost(held, what)
    },

    /**
     * Takes every number of a superseded holder's block that it has not used: a marker
     * `{ _id, seq, fenced: <its epoch> }` under each, in one unordered insert whose duplicates are
     * the numbers it used.
     */
    async fenceBlock(block: [number, number], staleEpoch: number): Promise<void> {
      const [first, last] = block
      const markers = Array.from({ length: last - first + 1 }, (_, index) => ({
        _id: eventId(first + index),
        seq: first + index,
        fenced: staleEpoch,
      }))
      try {
        await ledger().insertMany(markers, { ordered: false })
      } catch (error) {
        const errors = (error as { writeErrors?: { code?: number }[] | { code?: number } }).writeErrors
        const all = errors === undefined ? [error] : [errors].flat()
        if (!all.every((each) => codeOf(each) === DUPLICATE_KEY)) throw error
      }
    },

    /** A write of `numbers` under `held` that failed: LEASE_LOST when one of them is fenced, else the error itself. */
    async refused(held: HeldLease, numbers: readonly number[], what: string, error: unknown): Promise<unknown> {
      const fenced = await ledger()
        .findOne({ _id: { $in: numbers.map(eventId) }, fenced: { $exists: true } })
        .catch(() => null)
      return fenced ? await lost(held, what) : error
    },

    /**
     * In a transaction, the lease is checked by a write to its document: a take-over since the
     * transaction began deleted it, so the write matches nothing (or conflicts, and the driver
     * retries the transaction, which then matches nothing); a take-over after it waits for the commit.
     */
    async checkInTransaction(held: HeldLease, session: ClientSession): Promise<void> {
      const result = await locks().updateOne(
        { _id: lockId(held.epoch), token: held.token },
        { $currentDate: { checkedAt: true } },
        { session },
      )
      if (result.matchedCount === 0) throw await lost(held, 'commit the transaction')
    },

    /**
     * Above every epoch the ledger names (events, markers, and the guards of earlier versions):
     * for a store whose lease documents are gone.
     */
    async firstEpoch(): Promise<number> {
      const documents = await ledger()
        .find({}, { projection: { epoch: 1, fenced: 1, fence: 1 } })
        .toArray()
      const epochOf = (document: EntryDocument) =>
        Math.max(
          typeof document.epoch === 'number' ? document.epoch : 0,
          typeof document.fenced === 'number' ? document.fenced : 0,
          typeof document.fence === 'string' ? Number.parseInt(document.fence, 10) || 0 : 0,
        )
      return documents.reduce((highest, document) => Math.max(highest, epochOf(document)), 0) + 1
    },
  }
}

export type MongoFence = ReturnType<typeof mongoFence>

/** The holder a lock document shows, with its expiry and epoch; undefined when the lease is free. */
export function holderOf(document: LockDocument | null): LeaseHolder | undefined {
  if (!document?.token) return undefined
  const holder = document.holder ?? { host: 'unknown', pid: 0, runId: 'unknown', since: 'unknown' }
  return {
    ...holder,
    ...(document.expiresAt instanceof Date ? { expiresAt: document.expiresAt.toISOString() } : {}),
    epoch: document.epoch,
  }
}
