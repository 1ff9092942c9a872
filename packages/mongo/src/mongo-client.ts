import { isDeepStrictEqual } from 'node:util'
import { FluxError } from '@flux/core'
import type { ClientSession, Db, Document, Filter, IndexDirection, MongoClient } from 'mongodb'
import { codeOf, type MongoSettings, storeError, UNSUPPORTED_CODES } from './mongo-options.ts'

/** One index that {@link MongoStoreClient.ensureIndexes} keeps in place. */
export interface IndexSpec {
  key: Record<string, IndexDirection>
  /** Default: the name of an index on the same key if there is one, else MongoDB's (`author.id_1_createdAt_-1`). */
  name?: string
  unique?: boolean
  sparse?: boolean
  expireAfterSeconds?: number
  partialFilterExpression?: Document
  hidden?: boolean
  collation?: Document
  /** Any other `createIndexes` option; created as given but not compared. */
  [option: string]: unknown
}

/** What {@link MongoStoreClient.ensureIndexes} did, by index name. */
export interface IndexChanges {
  created: string[]
  dropped: string[]
  unchanged: string[]
}

export interface RenameFieldOptions {
  /** Documents per update. Default 1,000. */
  batch?: number
  /** Only documents matching this filter. */
  filter?: Filter<Document>
  /** Stops between batches (pass `ctx.signal`). */
  signal?: AbortSignal
  /** Called after each batch with the documents renamed so far and the total to rename. */
  onProgress?: (renamed: number, total: number) => void
}

export interface ValidatorOptions {
  /** `validationLevel`. Default `'strict'`: every insert and update is checked. */
  level?: 'off' | 'strict' | 'moderate'
  /** `validationAction`. Default `'error'`: invalid writes are refused. */
  action?: 'error' | 'warn'
}

/** What a migration receives as `ctx.store` for a mongo store. */
export interface MongoStoreClient {
  /** The store's database. */
  readonly db: Db
  readonly client: MongoClient
  /**
   * The session of the step's transaction, when it runs in one (replica sets, sharded
   * clusters): pass it to every operation (`{ session }`) so it commits with the ledger record.
   * `undefined` otherwise.
   */
  readonly session: ClientSession | undefined
  /**
   * Creates the indexes that are missing, and drops and re-creates those whose key or options
   * (unique, sparse, expireAfterSeconds, partialFilterExpression, hidden, and the collation
   * members given) differ; leaves the others alone. Idempotent. Like {@link setValidator}, it
   * runs outside the step's transaction (MongoDB builds indexes outside transactions): in a
   * transactional step, call it before writing to that collection, which the transaction locks.
   */
  ensureIndexes(collection: string, indexes: IndexSpec[]): Promise<IndexChanges>
  /**
   * Renames field `from` to `to` in every document that has it, `batch` documents at a time,
   * walking the collection by `_id` with one cursor. Running it again after an interruption
   * renames what is left. Resolves the number of documents renamed. In a transactional step it
   * is part of the transaction: for a large collection declare the migration `transaction: false`
   * (MongoDB aborts transactions after 60 s).
   */
  renameField(collection: string, from: string, to: string, options?: RenameFieldOptions): Promise<number>
  /**
   * Sets the collection's `$jsonSchema` validator (`collMod`), creating the collection if it is
   * missing; `null` removes the validator. Fails with a clear error on servers without validators.
   */
  setValidator(collection: string, schema: Document | null, options?: ValidatorOptions): Promise<void>
}

export function mongoClient(
  settings: MongoSettings,
  db: Db,
  client: MongoClient,
  session?: ClientSession,
): MongoStoreClient {
  const withSession = session ? { session } : {}
  return Object.freeze({
    db,
    client,
    session,

    async ensureIndexes(name: string, indexes: IndexSpec[]) {
      const changes: IndexChanges = { created: [], dropped: [], unchanged: [] }
      const wanted: IndexSpec[] = []
      try {
        const collection = db.collection(name)
        const existing = await collection
          .listIndexes()
          .toArray()
          .catch((error: unknown) => (codeOf(error) === 26 ? [] : Promise.reject(error))) // 26: no collection
        for (const spec of indexes) {
          const indexName = spec.name ?? defaultIndexName(spec.key)
          const current =
            existing.find((index) => index.name === indexName) ?? existing.find((index) => sameKey(index, spec))
          // an index with the same key under another name is kept when no name was asked for
          const named = current?.name === indexName || spec.name === undefined
          if (current && (current.name === '_id_' || (named && sameIndex(current, spec)))) {
            changes.unchanged.push(current.name)
            continue
          }
          if (current) {
            await collection.dropIndex(current.name)
            changes.dropped.push(current.name)
          }
          wanted.push({ ...spec, name: indexName })
        }
        if (wanted.length > 0) await collection.createIndexes(wanted as never)
        changes.created.push(...wanted.map((spec) => spec.name!))
        return changes
      } catch (error) {
        throw unsupported(settings, error, `change the indexes of ${name}`)
      }
    },

    async renameField(name: string, from: string, to: string, options: RenameFieldOptions = {}) {
      const badPath = (path: string) => path === '' || path.startsWith('$') || path.split('.').includes('')
      if (badPath(from) || badPath(to) || from === to || to.startsWith(`${from}.`) || from.startsWith(`${to}.`)) {
        throw new FluxError('USAGE', `renameField(${name}): cannot rename "${from}" to "${to}"`, {
          hint: 'give two different field paths, neither inside the other',
        })
      }
      const batch = Math.max(1, options.batch ?? 1_000)
      const collection = db.collection(name)
      const query = { ...options.filter, [from]: { $exists: true } }
      let renamed = 0
      try {
        const total = options.onProgress ? await collection.countDocuments(query, withSession) : 0
        const cursor = collection.find(query, {
          ...withSession,
          projection: { _id: 1 },
          sort: { _id: 1 },
          batchSize: batch,
        })
        let first: Document['_id']
        let last: Document['_id']
        let pending = 0
        const flush = async () => {
          // a range of _id, not $in: FerretDB matches $in against every document, once per id
          const result = await collection.updateMany(
            { $and: [query, { _id: { $gte: first, $lte: last } }] },
            { $rename: { [from]: to } },
            withSession,
          )
          renamed += result.modifiedCount
          pending = 0
          options.onProgress?.(renamed, total)
        }
        try {
          for await (const document of cursor) {
            // a range only matches _ids of one BSON type: close the batch where the type changes
            if (pending > 0 && typeOf(document._id) !== typeOf(first)) await flush()
            if (pending === 0) first = document._id
            last = document._id
            if (++pending < batch) continue
            options.signal?.throwIfAborted()
            await flush()
          }
          if (pending > 0) await flush()
        } finally {
          await cursor.close()
        }
        return renamed
      } catch (error) {
        if (options.signal?.aborted && error === options.signal.reason) throw error
        throw unsupported(settings, error, `rename ${from} to ${to} in ${name} (${renamed} documents renamed)`)
      }
    },

    async setValidator(name: string, schema: Document | null, options: ValidatorOptions = {}) {
      const validation = {
        validator: schema === null ? {} : { $jsonSchema: schema },
        validationLevel: options.level ?? 'strict',
        validationAction: options.action ?? 'error',
      }
      try {
        const found = await db.listCollections({ name }, { nameOnly: true }).toArray()
        if (found.length === 0) {
          try {
            await db.createCollection(name, validation)
            return
          } catch (error) {
            if (codeOf(error) !== 48) throw error // 48: created meanwhile, so change it
          }
        }
        await db.command({ collMod: name, ...validation })
      } catch (error) {
        throw unsupported(settings, error, `set the validator of ${name}`)
      }
    },
  })
}

/** A driver error as a `STORE_ERROR`; a server that lacks the feature is said so. */
function unsupported(settings: MongoSettings, error: unknown, action: string): FluxError {
  const lacking = UNSUPPORTED_CODES.has(codeOf(error) ?? 0)
  return storeError(
    settings,
    action,
    error,
    lacking
      ? 'this server does not implement what the helper needs (FerretDB 1.x, for one, has no collection validators); run it against MongoDB, or skip this step for this server'
      : undefined,
  )
}

function typeOf(value: unknown): string {
  const bsonType = (value as { _bsontype?: string } | null)?._bsontype
  return typeof value === 'number' || bsonType === 'Long' || bsonType === 'Double' || bsonType === 'Int32'
    ? 'number'
    : (bsonType ?? typeof value)
}

function defaultIndexName(key: Record<string, IndexDirection>): string {
  return Object.entries(key)
    .map(([field, direction]) => `${field}_${String(direction)}`)
    .join('_')
}

function sameKey(index: Document, spec: IndexSpec): boolean {
  // a text index is stored under the fields _fts/_ftsx, not under the ones given
  if (Object.values(spec.key).includes('text')) return index.key?._fts === 'text'
  return isDeepStrictEqual(Object.entries(index.key ?? {}), Object.entries(spec.key))
}

const COMPARED_OPTIONS = ['unique', 'sparse', 'expireAfterSeconds', 'partialFilterExpression', 'hidden'] as const

function sameIndex(index: Document, spec: IndexSpec): boolean {
  if (!sameKey(index, spec)) return false
  const normal = (value: unknown) => (value === false ? undefined : value)
  for (const option of COMPARED_OPTIONS) {
    if (!isDeepStrictEqual(normal(index[option]), normal(spec[option]))) return false
  }
  // the server fills in every collation member: compare only those given
  return Object.entries(spec.collation ?? {}).every(([member, value]) =>
    isDeepStrictEqual(index.collation?.[member], value),
  )
}
