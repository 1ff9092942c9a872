import { describeChanges, type Ledger, type LedgerChange, type LedgerEntry } from '@flux/core'
import type { ClientSession, Db } from 'mongodb'
import { type EntryDocument, eventId, type FenceState, type HeldLease, type MongoFence } from './mongo-fence.ts'
import { type MongoSettings, storeError } from './mongo-options.ts'

/**
 * The counter document that numbers events. Migration ids always contain a `/`, and event ids
 * are `#<number>`, so this `_id` can never be one of them.
 */
export const SEQUENCE_ID = '#sequence'

/**
 * How many numbers a lease holder takes from the counter at once: one counter write and one
 * registration per 100 events instead of one each. Only the holder writes while its lease is
 * current, so the numbers it hands out in turn keep the order; numbers left unused are gaps.
 */
const SEQUENCE_BLOCK = 100

/**
 * The ledger is a log: each `record` or `remove` inserts an event document into
 * `ledgerCollection`, `{ _id: '#<seq>', seq, id, ...entry }` or `{ _id, seq, id, removed: true }`,
 * numbered from an atomic counter, and `read()` folds the events in number order: an entry is its
 * latest event, and takes its place in the order from the first event since it was last removed.
 * Nothing is ever updated in place. An insert is one index lookup on every server, where FerretDB
 * (1.x, SQLite) scans the whole collection to update or find a document by `_id`: one such write
 * per step made a migration's cost grow with the ledger's length.
 *
 * Under a lease, events carry the lease's `epoch`, and their numbers come from a block named in
 * the lease document first (see `mongoFence`): a fenced write is refused by the `_id` index.
 * Entries that an earlier version of flux wrote in place (`_id` the migration id, and
 * `{ placeholder: true }` documents) are read as events of their own `seq`.
 * With `session`, every operation runs in that session (and its transaction), whose commit
 * checks the lease instead of the block.
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
  // one write at a time, so that the numbers of a block are used in order
  let queue: Promise<unknown> = Promise.resolve()
  const serialized = <T>(write: () => Promise<T>): Promise<T> => {
    const result = queue.then(write, write)
    queue = result.catch(() => {})
    return result
  }

  /** Adds `count` to the counter: the last of the `count` numbers it hands out. */
  const take = async (count: number): Promise<number> => {
    const counter = await database()
      .collection<{ _id: string; value: number }>(settings.ledgerCollection)
      .findOneAndUpdate(
        { _id: SEQUENCE_ID },
        { $inc: { value: count } },
        { ...options, upsert: true, returnDocument: 'after' },
      )
    return counter!.value
  }

  // the block registered for one lease (by identity: a new acquisition takes a new block), and its next number
  let block: { held: HeldLease; next: number; last: number } | undefined
  /** `count` numbers in a row for one write: all from one registered block under a lease. */
  const numbers = async (held: HeldLease | undefined, count: number, what: string): Promise<number[]> => {
    let first: number
    if (held === undefined || session) {
      first = (await take(count)) - count + 1
    } else {
      // a write never spans two blocks: a take-over fences only the block registered last
      if (block?.held !== held || block.last - block.next + 1 < count) {
        const size = Math.max(SEQUENCE_BLOCK, count)
        const last = await take(size)
        await fence.registerBlock(held, [last - size + 1, last], what)
        block = { held, next: last - size + 1, last }
      }
      first = block.next
      block.next += count
    }
    return Array.from({ length: count }, (_, index) => first + index)
  }

  const event = (change: LedgerChange, seq: number, held: HeldLease | undefined): EntryDocument => {
    const epoch = held ? { epoch: held.epoch } : {}
    if ('remove' in change) return { _id: eventId(seq), seq, id: change.remove, removed: true, ...epoch }
    const fields: Record<string, unknown> = {}
    // undefined would be stored as null: an absent field stays absent
    for (const [key, value] of Object.entries(change.record)) if (value !== undefined) fields[key] = value
    return { _id: eventId(seq), seq, ...fields, ...epoch }
  }

  /** Inserts the events of `changes`, in order: an ordered insert stops at the first refused one. */
  const write = (changes: readonly LedgerChange[]) =>
    serialized(async () => {
      const what = `${describeChanges(changes)} in the ledger ${settings.ledgerCollection}`
      const held = state.held
      let seqs: number[] = []
      try {
        seqs = await numbers(held, changes.length, what)
        const documents = changes.map((change, index) => event(change, seqs[index]!, held))
        await collection().insertMany(documents, { ...options, ordered: true })
      } catch (error) {
        const refused = held && !session && seqs.length > 0 ? await fence.refused(held, seqs, what, error) : error
        throw fail(what, refused)
      }
    })

  return {
    async read() {
      try {
        const documents = await collection()
          .find({ _id: { $ne: SEQUENCE_ID } }, { ...options, sort: { seq: 1 }, projection: { fence: 0, epoch: 0 } })
          .toArray()
        return fold(documents)
      } catch (error) {
        throw fail(`read the ledger ${settings.ledgerCollection}`, error)
      }
    },
    record: (entry) => write([{ record: entry }]),
    remove: (id) => write([{ remove: id }]),
    write,
  }
}

/** The entries that `documents` (the ledger collection in `seq` order) add up to. */
function fold(documents: EntryDocument[]): LedgerEntry[] {
  const entries = new Map<string, { first: number; entry: LedgerEntry }>()
  for (const { _id, seq, id: eventOf, removed, fenced, ...fields } of documents) {
    // markers count for nothing, nor do an earlier version's placeholders and markers (no `seq`)
    if (fenced !== undefined || typeof seq !== 'number') continue
    // an event names its entry; an entry written in place is its own `_id`
    const id = typeof eventOf === 'string' ? eventOf : _id
    if (removed === true) {
      entries.delete(id)
      continue
    }
    entries.set(id, { first: entries.get(id)?.first ?? seq, entry: { id, ...fields } as LedgerEntry })
  }
  return [...entries.values()].sort((a, b) => a.first - b.first).map(({ entry }) => entry)
}
