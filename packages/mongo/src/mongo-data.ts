import type { DataKey, DataSource, DataTarget } from '@flux/core'
import { type Document, type Filter, MongoBulkWriteError, ObjectId, type OptionalUnlessRequiredId } from 'mongodb'
import type { MongoStoreClient } from './mongo-client.ts'

export interface MongoDocumentsOptions {
  /** Only the documents matching this filter (as a source). Default: all. */
  filter?: Filter<Document>
  /** Fields to read (as a source). Default: whole documents. */
  projection?: Document
}

/**
 * A collection of a mongo store (its client, `ctx.store` or `ctx.stores.<name>`) as a source
 * and a target for `copy` and `verifyCopy` from `@flux/core`. Read in `_id` ranges
 * (`find({ _id: { $gt: last } }).sort({ _id: 1 }).limit(n)`: each batch served by the `_id`
 * index, however deep); written with one unordered `insertMany` per batch, then an unordered `bulkWrite` of
 * `replaceOne({ _id }, doc, { upsert: true })` for the documents whose `_id` was already
 * there (a batch redone after a crash), so a batch written twice leaves one document per `_id`
 * (holding the newer version) while a first copy pays for plain inserts only.
 * Documents written must have an `_id`. In a transactional step, reads and writes use the
 * step's session.
 *
 * Checkpoints hold an `ObjectId` key as `{ $oid: '<hex>' }` (they are JSON).
 *
 * @example
 * ```ts
 * await copy({ from: pgRows(ctx.stores.main, { table: 'review' }), to: mongoDocuments(ctx.store, 'reviews'), transform: (row) => ({ _id: row.id, ...row }), context: ctx })
 * ```
 */
export function mongoDocuments<Doc extends Document = Document>(
  store: MongoStoreClient,
  collectionName: string,
  options: MongoDocumentsOptions = {},
): DataSource<Doc> & DataTarget<Doc> {
  const collection = store.db.collection<Doc>(collectionName)
  const session = () => (store.session ? { session: store.session } : {})
  const filterAfter = (after: DataKey | undefined): Filter<Doc> => {
    const range = after === undefined ? {} : { _id: { $gt: decodeKey(after) } }
    return { ...(options.filter ?? {}), ...range } as Filter<Doc>
  }
  async function* pages(after: DataKey | undefined, batchSize: number, projection?: Document): AsyncIterable<Doc[]> {
    let last = after
    for (;;) {
      const documents = (await collection
        .find(filterAfter(last), { ...session(), sort: { _id: 1 }, limit: batchSize, projection })
        .toArray()) as Doc[]
      if (documents.length > 0) yield documents
      if (documents.length < batchSize) return
      last = encodeKey(documents[documents.length - 1]!._id)
    }
  }
  /** Inserts the documents, unordered; resolves those that were not inserted because their `_id` is taken. */
  async function insertNew(documents: Doc[]): Promise<Doc[]> {
    try {
      await collection.insertMany(documents as OptionalUnlessRequiredId<Doc>[], { ...session(), ordered: false })
      return []
    } catch (error) {
      if (!(error instanceof MongoBulkWriteError)) throw error
      const failures = Array.isArray(error.writeErrors) ? error.writeErrors : Object.values(error.writeErrors)
      if (failures.length === 0 || failures.some((failure) => failure.code !== DUPLICATE_KEY)) throw error
      return failures.map((failure) => documents[failure.index]!)
    }
  }
  return {
    read: (after, batchSize) => pages(after, batchSize, options.projection),
    keyOf: (document) => encodeKey(document._id),
    count: () => collection.countDocuments((options.filter ?? {}) as Filter<Doc>, session()),
    async *keys(batchSize) {
      // one cursor in any order: verifyCopy needs every key, not their order
      const cursor = collection.find((options.filter ?? {}) as Filter<Doc>, {
        ...session(),
        projection: { _id: 1 },
        batchSize,
      })
      let keys: DataKey[] = []
      for await (const document of cursor) {
        keys.push(encodeKey(document._id))
        if (keys.length >= batchSize) {
          yield keys
          keys = []
        }
      }
      if (keys.length > 0) yield keys
    },
    async write(documents) {
      if (documents.length === 0) return
      // an insert of new documents is far cheaper than an upsert (FerretDB: ~1,000 times), so
      // insert first and replace only the documents that were there (a batch redone)
      const there = await insertNew(documents)
      // in small bulk writes: FerretDB slows down far more than linearly with many upserts in one
      for (let start = 0; start < there.length; start += REPLACE_CHUNK) {
        await collection.bulkWrite(
          there.slice(start, start + REPLACE_CHUNK).map((document) => ({
            replaceOne: { filter: { _id: document._id } as Filter<Doc>, replacement: document, upsert: true },
          })),
          { ...session(), ordered: false },
        )
      }
    },
    describe: () => `mongo collection ${collectionName}`,
  }
}

/** Replacements per `bulkWrite`. */
const REPLACE_CHUNK = 50

/** MongoDB's error code for a duplicate key. */
const DUPLICATE_KEY = 11_000

/** An `_id` as a checkpoint can hold it: JSON, `ObjectId`s as `{ $oid }`. */
function encodeKey(id: unknown): DataKey {
  if (id instanceof ObjectId) return { $oid: id.toHexString() }
  return id as DataKey
}

function decodeKey(key: DataKey): unknown {
  if (
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    typeof (key as { $oid?: unknown }).$oid === 'string'
  )
    return new ObjectId((key as { $oid: string }).$oid)
  return key
}
