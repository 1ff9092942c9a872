import type { Ledger, LedgerEntry } from '@flux/core'
import type { ClientSession, Db } from 'mongodb'
import { type MongoSettings, storeError } from './mongo-options.ts'

/**
 * The counter document that numbers entries in first-recorded order. Migration ids always
 * contain a `/`, so this `_id` can never be one of them.
 */
export const SEQUENCE_ID = '#sequence'

interface LedgerDocument extends Omit<LedgerEntry, 'id'> {
  _id: string
  seq: number
}

/**
 * The ledger: one document per entry in `ledgerCollection`, whose `_id` is the migration id
 * (so the always-present unique `_id` index keeps ids unique: there is no index to create,
 * and no race between two first writers). `seq`, taken from an atomic counter when an id is
 * first recorded, gives the order; replacing an entry keeps its `seq`.
 * With `session`, every operation runs in that session (and its transaction).
 */
export function mongoLedger(settings: MongoSettings, database: () => Db, session?: ClientSession): Ledger {
  const options = session ? { session } : {}
  // in a transaction, driver errors go up as they are: withTransaction() retries on their labels
  const fail = (action: string, error: unknown) => (session ? error : storeError(settings, action, error))
  const collection = () => database().collection<LedgerDocument>(settings.ledgerCollection)
  // ids this instance has seen stored: for those, record() tries a plain update first (one
  // round trip). A wrong guess costs a round trip, never correctness: both paths check.
  const known = new Set<string>()

  const update = async (entry: LedgerEntry, seq?: number): Promise<boolean> => {
    const { id, checkpoint, ...fields } = entry
    const set: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) set[key] = value
    // undefined would be stored as null: an absent checkpoint is removed instead
    if (checkpoint !== undefined) set.checkpoint = checkpoint
    const change = {
      $set: set,
      ...(checkpoint === undefined ? { $unset: { checkpoint: true as const } } : {}),
      ...(seq === undefined ? {} : { $setOnInsert: { seq } }),
    }
    const result = await collection().updateOne({ _id: id }, change, { ...options, upsert: seq !== undefined })
    return result.matchedCount + result.upsertedCount > 0
  }

  return {
    async read() {
      try {
        const documents = await collection()
          .find({ _id: { $ne: SEQUENCE_ID } }, { ...options, sort: { seq: 1 }, projection: { seq: 0 } })
          .toArray()
        known.clear()
        return documents.map(({ _id, ...fields }) => {
          known.add(_id)
          return { id: _id, ...fields } as LedgerEntry
        })
      } catch (error) {
        throw fail(`read the ledger ${settings.ledgerCollection}`, error)
      }
    },

    async record(entry) {
      try {
        if (known.has(entry.id) && (await update(entry))) return
        const counter = await database()
          .collection<{ _id: string; value: number }>(settings.ledgerCollection)
          .findOneAndUpdate(
            { _id: SEQUENCE_ID },
            { $inc: { value: 1 } },
            { ...options, upsert: true, returnDocument: 'after' },
          )
        // an entry recorded meanwhile keeps its seq ($setOnInsert): this number is then unused
        await update(entry, counter!.value)
        known.add(entry.id)
      } catch (error) {
        throw fail(`record ${entry.id} in the ledger ${settings.ledgerCollection}`, error)
      }
    },

    async remove(id) {
      try {
        await collection().deleteOne({ _id: id }, options)
        known.delete(id)
      } catch (error) {
        throw fail(`remove ${id} from the ledger ${settings.ledgerCollection}`, error)
      }
    },
  }
}
