import { describeChanges, type Ledger, type LedgerEntry } from '@flux/core'
import type { AnyBulkWriteOperation, ClientSession, Db } from 'mongodb'
import { type EntryDocument, type FenceState, guard, type HeldLease, type MongoFence } from './mongo-fence.ts'
import { type MongoSettings, storeError } from './mongo-options.ts'

/**
 * The counter document that numbers entries in first-recorded order. Migration ids always
 * contain a `/`, so this `_id` can never be one of them.
 */
export const SEQUENCE_ID = '#sequence'

/**
 * How many numbers a lease holder takes from the counter at once: one counter write per 100 new
 * entries instead of one each. Only the holder writes while its lease is current, so the numbers
 * it hands out in turn keep the first-recorded order; numbers left unused are only gaps.
 */
const SEQUENCE_BLOCK = 100

/**
 * The ledger: one document per entry in `ledgerCollection`, whose `_id` is the migration id
 * (so the always-present unique `_id` index keeps ids unique: there is no index to create,
 * and no race between two first writers). `seq`, taken from an atomic counter when an id is
 * first recorded, gives the order; replacing an entry keeps its `seq`.
 *
 * Under a lease, writes are fenced (see `mongoFence`): each carries the lease's guard in `fence`,
 * and an entry removed under a lease stays as a placeholder `{ _id, placeholder: true, fence }`
 * so that the remove is guarded too. Readers skip placeholders.
 * With `session`, every operation runs in that session (and its transaction), whose commit
 * checks the lease instead of step (1).
 */
export function mongoLedger(
  settings: MongoSettings,
  database: () => Db,
  fence: MongoFence,
  state: FenceState,
  session?: ClientSession,
): Ledger {
  const options = session ? { session } : {}
  // in a transaction, driver errors go up as they are: withTransaction() retries on their labels
  const fail = (action: string, error: unknown) => (session ? error : storeError(settings, action, error))
  const collection = () => database().collection<EntryDocument>(settings.ledgerCollection)
  // ids this instance has seen stored: for those, record() tries a plain update first (one
  // round trip). A wrong guess costs a round trip, never correctness: both paths check.
  const known = new Set<string>()
  // one write at a time, so that the entry registered in flight is the one being written
  let queue: Promise<unknown> = Promise.resolve()
  const serialized = <T>(write: () => Promise<T>): Promise<T> => {
    const result = queue.then(write, write)
    queue = result.catch(() => {})
    return result
  }
  // the ids core said the next writes are about (a chain of steps): registered with the first of them
  let expected: readonly string[] = []
  const register = (held: HeldLease | undefined, ids: readonly string[], what: string) => {
    if (!held || session) return undefined
    const upcoming = ids.every((id) => expected.includes(id)) ? expected : ids
    return fence.registerEntries(held, upcoming, what)
  }
  /** Step (2): a write the guard index may refuse. */
  const guarded = async <T>(
    held: HeldLease | undefined,
    ids: readonly string[],
    what: string,
    write: () => Promise<T>,
  ) => {
    try {
      return await write()
    } catch (error) {
      throw held ? await fence.refused(held, ids, what, error) : error
    }
  }

  /** The update that writes `entry`; with `seq`, it also numbers a new entry or a placeholder. */
  const entryUpdate = (entry: LedgerEntry, held: HeldLease | undefined, seq?: number) => {
    const { id, checkpoint, ...fields } = entry
    const set: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) set[key] = value
    // undefined would be stored as null: an absent checkpoint is removed instead
    if (checkpoint !== undefined) set.checkpoint = checkpoint
    if (held) set.fence = guard(held.epoch, id)
    return {
      $set: set,
      $unset: { placeholder: true as const, ...(checkpoint === undefined ? { checkpoint: true as const } : {}) },
      // an existing entry's seq is lower than a new number: $min keeps it, and numbers a placeholder
      ...(seq === undefined ? {} : { $min: { seq } }),
    }
  }

  // numbers taken for one lease (by identity: a new acquisition takes a new block), not yet used
  let block: { held: HeldLease; next: number; end: number } | undefined
  const nextSeq = async (held: HeldLease | undefined): Promise<number> => {
    const blocks = held !== undefined && !session
    if (blocks && block?.held === held && block.next < block.end) return block.next++
    const size = blocks ? SEQUENCE_BLOCK : 1
    const counter = await database()
      .collection<{ _id: string; value: number }>(settings.ledgerCollection)
      .findOneAndUpdate(
        { _id: SEQUENCE_ID },
        { $inc: { value: size } },
        { ...options, upsert: true, returnDocument: 'after' },
      )
    const first = counter!.value - size + 1
    if (blocks) block = { held, next: first + 1, end: counter!.value + 1 }
    return first
  }

  return {
    async read() {
      try {
        const documents = await collection()
          .find(
            { _id: { $ne: SEQUENCE_ID }, placeholder: { $exists: false } },
            { ...options, sort: { seq: 1 }, projection: { seq: 0, fence: 0 } },
          )
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

    record: (entry) =>
      serialized(async () => {
        const what = `record ${entry.id} in the ledger ${settings.ledgerCollection}`
        const held = state.held
        try {
          if (known.has(entry.id)) {
            await register(held, [entry.id], what)
            // filters are `{ _id }` alone: FerretDB looks those up by index, and scans for any other
            const before = await guarded(held, [entry.id], what, () =>
              collection().findOneAndUpdate({ _id: entry.id }, entryUpdate(entry, held), {
                ...options,
                returnDocument: 'before',
              }),
            )
            // a placeholder (or nothing) was there: the entry is new, it takes a number
            if (typeof before?.seq === 'number') return
          }
          // numbered while the entry is registered: a number left unused is only a gap
          const [seq] = await Promise.all([nextSeq(held), register(held, [entry.id], what)])
          await guarded(held, [entry.id], what, () =>
            collection().updateOne({ _id: entry.id }, entryUpdate(entry, held, seq), { ...options, upsert: true }),
          )
          known.add(entry.id)
        } catch (error) {
          throw fail(what, error)
        }
      }),

    remove: (id) =>
      serialized(async () => {
        const what = `remove ${id} from the ledger ${settings.ledgerCollection}`
        const held = state.held
        try {
          if (!held) {
            await collection().deleteOne({ _id: id }, options)
          } else {
            await register(held, [id], what)
            // a placeholder, not a deletion: a write that the guard index can refuse
            await guarded(held, [id], what, () =>
              collection().replaceOne(
                { _id: id },
                { placeholder: true, fence: guard(held.epoch, id) },
                { ...options, upsert: true },
              ),
            )
          }
          known.delete(id)
        } catch (error) {
          throw fail(what, error)
        }
      }),

    expect(ids) {
      expected = [...ids]
    },

    // one command for them all (a step's applied record with the next step's running one), in
    // order: an ordered bulk write stops at the first refused change, so a later one never lands
    // without the earlier ones
    write: (changes) =>
      serialized(async () => {
        const what = `${describeChanges(changes)} in the ledger ${settings.ledgerCollection}`
        const held = state.held
        const ids = changes.map((change) => ('record' in change ? change.record.id : change.remove))
        try {
          const operations: AnyBulkWriteOperation<EntryDocument>[] = []
          // numbered one after another, in the changes' order: two new entries keep theirs
          const numbering = (async () => {
            const numbers: (number | undefined)[] = []
            for (const change of changes) numbers.push('record' in change ? await nextSeq(held) : undefined)
            return numbers
          })()
          const [seqs] = await Promise.all([numbering, register(held, ids, what)])
          changes.forEach((change, index) => {
            if ('record' in change) {
              // numbered every time: $min keeps the number of an entry that has one
              const update = entryUpdate(change.record, held, seqs[index])
              operations.push({ updateOne: { filter: { _id: change.record.id }, update, upsert: true } })
            } else if (!held) {
              operations.push({ deleteOne: { filter: { _id: change.remove } } })
            } else {
              operations.push({
                replaceOne: {
                  filter: { _id: change.remove },
                  replacement: { _id: change.remove, placeholder: true, fence: guard(held.epoch, change.remove) },
                  upsert: true,
                },
              })
            }
          })
          await guarded(held, ids, what, () => collection().bulkWrite(operations, { ...options, ordered: true }))
          for (const change of changes) {
            if ('record' in change) known.add(change.record.id)
            else known.delete(change.remove)
          }
        } catch (error) {
          throw fail(what, error)
        }
      }),
  }
}
