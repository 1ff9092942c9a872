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
   * The ledger entries the holder may be writing, for the next holder to fence (see
   * {@link mongoFence}): one id, or several announced at once.
   */
  inflight?: string | string[]
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
  /** The entries last registered as `inflight` under this lease: writes to them need no new registration. */
  registered?: ReadonlySet<string>
}

/** Shared by one adapter instance's lease and ledgers. */
export interface FenceState {
  held: HeldLease | undefined
}

/** Any document of the ledger collection: an entry, a placeholder, a fence marker or the counter. */
export interface EntryDocument extends Document {
  _id: string
}

/** The unique index that refuses a fenced write. */
export const GUARD_INDEX = 'flux_fence'

/** The guard a write of entry `id` under `epoch` carries in its `fence` field. */
export const guard = (epoch: number, id: string) => `${epoch}:${id}`
const markerId = (epoch: number, id: string) => `#fence ${guard(epoch, id)}`

/**
 * How fencing works without multi-document transactions. A leased ledger write is two steps:
 * (1) the holder names the entry it is about to write as `inflight` in its lease document, on
 * condition that its token is still there (or the entries of a chain of steps, all at once); (2) it writes the entry with `fence: '<epoch>:<id>'`,
 * under a unique index. A take-over (or a break) inserts the next epoch's lease document, empties
 * the older one, reading its `inflight` in the same operation, and inserts a marker document that
 * holds each such entry's guard for the old epoch before the new lease is returned. So a stale
 * holder's write either comes before the take-over, or fails at (1), or — begun before it,
 * landing after — is refused by the index at (2). The filters stay `{ _id }`, which FerretDB
 * looks up by index (it scans for any other filter, and applies them without atomicity; its
 * unique indexes are SQLite's, checked atomically with the write).
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

    /**
     * Creates the guard index, or finds it there. Every acquisition does, before its holder writes:
     * not at a take-over, where an index build would wait for the stale holder's open transaction.
     */
    async ensureGuard(): Promise<void> {
      await ledger().createIndex({ fence: 1 }, { name: GUARD_INDEX, unique: true, sparse: true })
    },

    /**
     * Step (1): records `ids` as the holder's entries in flight (replacing the ones before: the
     * ledger writes one at a time, so none of those is being written), or rejects LEASE_LOST.
     */
    async registerEntries(held: HeldLease, ids: readonly string[], what: string): Promise<void> {
      if (ids.every((id) => held.registered?.has(id))) return
      const inflight = ids.length === 1 ? ids[0]! : [...ids]
      const result = await locks().updateOne({ _id: lockId(held.epoch), token: held.token }, { $set: { inflight } })
      if (result.matchedCount === 0) throw await lost(held, what)
      held.registered = new Set(ids)
    },

    /**
     * Refuses every later write of entry `id` under `staleEpoch`: a marker takes its guard. When
     * the entry holds that guard itself (the stale holder wrote it), it passes to `epoch` first.
     */
    async fenceEntry(id: string, staleEpoch: number, epoch: number): Promise<void> {
      const stale = guard(staleEpoch, id)
      for (let tries = 0; tries < 10; tries++) {
        try {
          await ledger().insertOne({ _id: markerId(staleEpoch, id), placeholder: true, fence: stale })
          return
        } catch (error) {
          if (codeOf(error) !== DUPLICATE_KEY) throw error
        }
        if (await ledger().findOne({ _id: markerId(staleEpoch, id) })) return
        await ledger().updateOne({ _id: id }, { $set: { fence: guard(epoch, id) } })
      }
      throw new Error(`the entry ${id} kept being written by the holder of epoch ${staleEpoch}`)
    },

    /** A write of `ids` under `held` that failed: LEASE_LOST when a guard of theirs is fenced, else the error itself. */
    async refused(held: HeldLease, ids: readonly string[], what: string, error: unknown): Promise<unknown> {
      const fenced = await ledger()
        .findOne(
          ids.length === 1
            ? { _id: markerId(held.epoch, ids[0]!) }
            : { _id: { $in: ids.map((id) => markerId(held.epoch, id)) } },
        )
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

    /** Above every epoch the ledger's guards name: for a store whose lease documents are gone. */
    async firstEpoch(): Promise<number> {
      const guarded = await ledger()
        .find({ fence: { $exists: true } }, { projection: { fence: 1 } })
        .toArray()
      return guarded.reduce((highest, document) => Math.max(highest, Number.parseInt(document.fence, 10) || 0), 0) + 1
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
