import { resolve } from 'node:path'
import { type Adapter, FluxError, type Ledger, unsetStore } from '@flux/core'
import { type Db, type Document, MongoClient } from 'mongodb'
import { autogenerate } from './autogenerate/mongo-autogenerate.ts'
import { type MongoStoreClient, mongoClient } from './mongo-client.ts'
import { type FenceState, mongoFence } from './mongo-fence.ts'
import { mongoLease } from './mongo-lease.ts'
import { mongoLedger } from './mongo-ledger.ts'
import {
  codeOf,
  type MongoSettings,
  type MongoStoreOptions,
  resolveSettings,
  scrubbedError,
  storeError,
} from './mongo-options.ts'

interface Connection {
  client: MongoClient
  db: Db
  store: MongoStoreClient
}

/**
 * A MongoDB database: the ledger and the lease are two collections in it. Migrations run in
 * a session transaction with their ledger record where the deployment has transactions
 * (replica set, sharded cluster); elsewhere `running` is recorded first and `applied` after.
 * Ledger writes under a lease are fenced: in a transaction, by a write to the lease document
 * that commits with it; elsewhere, by the block of event numbers named in the lease document,
 * whose unused numbers a take-over takes (`mongoFence`), which is exact on MongoDB. FerretDB 1.x
 * applies a conditional update as a read then a write, so there a stale holder whose block
 * registration reaches the server while the take-over itself runs can still write under it;
 * leases are taken by inserts, which stay exclusive there too.
 *
 * @example
 * ```ts
 * export default defineConfig({ stores: { reviews: mongoStore({ url: process.env.MONGO_URL }) } })
 * ```
 */
export function mongoStore(options: MongoStoreOptions): Adapter<MongoStoreClient> {
  let settings: MongoSettings
  try {
    settings = resolveSettings(options)
  } catch (error) {
    // no url (an unset MONGODB_URL): commands that open no store still work
    return unsetStore(error, { kind: 'mongo', capabilities: { transactions: options.transactions ?? false } })
  }
  let connection: Connection | undefined
  let detected = false
  let clockOffsetMs = 0

  const current = (): Connection => {
    if (connection) return connection
    throw new FluxError('STORE_ERROR', `${settings.description} is not open`, {
      hint: 'core opens every store before use; open() it first when driving the adapter yourself',
    })
  }
  const database = () => current().db
  const fence = mongoFence(settings, database)
  // the lease this instance writes under: set by acquire(), cleared by its own release()
  const state: FenceState = { held: undefined }
  const lease = mongoLease(settings, database, () => Date.now() + clockOffsetMs, fence, state)
  const capabilities = {
    get transactions() {
      return settings.transactions ?? detected
    },
  }

  return {
    specVersion: 'v1',
    kind: 'mongo',
    capabilities,

    async open() {
      if (connection) return
      const owned = settings.client === undefined
      let client: MongoClient
      try {
        client =
          settings.client ??
          new MongoClient(settings.url!, {
            serverSelectionTimeoutMS: settings.connectTimeoutMs,
            connectTimeoutMS: settings.connectTimeoutMs,
            appName: 'flux',
          })
      } catch (error) {
        throw openError(settings, error)
      }
      try {
        await client.connect()
        const db = client.db(settings.database)
        const sent = Date.now()
        const hello = await db
          .command({ hello: 1 })
          .catch((error: unknown) => (codeOf(error) === 59 ? db.command({ isMaster: 1 }) : Promise.reject(error)))
        if (hello.localTime instanceof Date) clockOffsetMs = hello.localTime.getTime() - (sent + Date.now()) / 2
        detected = hasTransactions(hello)
        if (settings.transactions === true && !detected) {
          throw new FluxError(
            'CONFIG_INVALID',
            `${settings.description} has no transactions (it is neither a replica set nor a sharded cluster), but the store says transactions: true`,
            { hint: 'remove `transactions: true` from mongoStore(), or point it at a replica set' },
          )
        }
        if (settings.mustExist && (await db.listCollections({}, { nameOnly: true }).toArray()).length === 0) {
          throw new FluxError(
            'STORE_UNAVAILABLE',
            `database ${settings.database} does not exist on ${settings.description}`,
            {
              hint: 'check the database name; or create it, or drop `mustExist` to let the first migration create it',
            },
          )
        }
        connection = { client, db, store: mongoClient(settings, db, client) }
      } catch (error) {
        if (owned) await client.close().catch(() => {})
        throw openError(settings, error)
      }
    },

    async close() {
      const closing = connection
      connection = undefined
      // never the user's own client
      if (closing && settings.client === undefined) await closing.client.close()
    },

    describe: () => settings.description,
    client: () => current().store,
    ledger: mongoLedger(settings, database, fence, state),
    acquire: (acquireOptions) => lease.acquire(acquireOptions),
    inspectLease: () => lease.inspect(),
    breakLease: () => lease.breakLease(),

    async autogenerate() {
      const declared = options.declared
      if (declared === undefined) {
        throw new FluxError('CONFIG_INVALID', `${settings.description} declares no collections to compare with`, {
          hint: "add declared: 'db/mongo.ts' (a module whose default export is declareCollections({ … }), relative to the config's folder) to its mongoStore() options",
        })
      }
      if (typeof declared !== 'string' || declared === '') {
        throw new FluxError('CONFIG_INVALID', `${settings.description}: declared must be the path of a module`, {
          hint: "declared: 'db/mongo.ts' (relative to the config's folder)",
        })
      }
      try {
        return await autogenerate(database(), { path: resolve(declared), display: declared }, [
          settings.ledgerCollection,
          settings.lockCollection,
        ])
      } catch (error) {
        throw storeError(settings, 'compare the database with its declared collections', error)
      }
    },

    async transaction<T>(fn: (client: MongoStoreClient, ledger: Ledger) => Promise<T>): Promise<T> {
      const { client, db } = current()
      if (!capabilities.transactions) {
        throw new FluxError('STORE_ERROR', `${settings.description} has no transactions`, {
          hint: 'transactions need a replica set or a sharded cluster',
        })
      }
      const held = state.held
      const session = client.startSession()
      try {
        // the driver retries fn on a TransientTransactionError, each time in a fresh transaction
        return await session.withTransaction(async () => {
          const result = await fn(
            mongoClient(settings, db, client, session),
            mongoLedger(settings, () => db, fence, state, session),
          )
          // the fence, checked by a write in the transaction itself: it commits only if the lease is still ours
          if (held) await fence.checkInTransaction(held, session)
          return result
        })
      } finally {
        await session.endSession()
      }
    },
  }
}

/** A replica set member names its set; a mongos says `isdbgrid`. Both need sessions. */
function hasTransactions(hello: Document): boolean {
  const sessions = typeof hello.logicalSessionTimeoutMinutes === 'number'
  return sessions && (typeof hello.setName === 'string' || hello.msg === 'isdbgrid')
}

function openError(settings: MongoSettings, error: unknown): FluxError {
  if (FluxError.is(error)) return error
  const cause = scrubbedError(settings, error)
  const name = cause.name
  const code = codeOf(error)
  const target = settings.description
  if (name === 'MongoParseError' || name === 'MongoInvalidArgumentError' || name === 'MongoAPIError') {
    return new FluxError('CONFIG_INVALID', `the url of ${target} is invalid: ${cause.message}`, {
      hint: 'fix the connection string (mongodb://user:password@host:27017/database)',
      cause,
    })
  }
  if (code === 18 || /authentication failed/i.test(cause.message)) {
    return new FluxError('STORE_UNAVAILABLE', `authentication failed for ${target}: ${cause.message}`, {
      hint: "check the user name and password in the url, and its authSource (the database that holds the user's credentials)",
      cause,
    })
  }
  if (code === 13) {
    return new FluxError('STORE_UNAVAILABLE', `not authorized on ${target}: ${cause.message}`, {
      hint: 'grant the user readWrite on the database (and dbAdmin for index and validator changes)',
      cause,
    })
  }
  const network = /^MongoServerSelectionError|^MongoNetwork|^MongoTopologyClosedError/.test(name)
  return new FluxError('STORE_UNAVAILABLE', `cannot ${network ? 'reach' : 'open'} ${target}: ${cause.message}`, {
    hint: network
      ? 'check that the server is running and that the host and port in the url are right'
      : 'check the server and the url, then run again',
    cause,
  })
}
