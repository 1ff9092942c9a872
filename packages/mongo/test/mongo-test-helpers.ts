import { randomBytes } from 'node:crypto'
import {
  type ConformanceOptions,
  type ConformanceStore,
  describeWithServer as describeServer,
} from '@flux/core/testing'
import { type Db, MongoClient } from 'mongodb'
import { afterAll } from 'vitest'
import { type MongoStoreOptions, mongoStore } from '../src/index.ts'

/** A password that must never show up anywhere (the CI server has no users: it only has to be hidden). */
export const PASSWORD = 'flux-mongo-secret-pw'

export const SERVER_URL = process.env.FLUX_TEST_MONGO_URL
/** A replica set or sharded cluster, for the transaction tests; the CI server (FerretDB) has no transactions. */
export const REPLSET_URL = process.env.FLUX_TEST_MONGO_REPLSET_URL

/** A URL that refuses connections (a closed port), with a user and the password. */
export const UNREACHABLE_URL = `mongodb://flux:${PASSWORD}@127.0.0.1:1/flux_test`

const SERVICES_HINT = 'start the test servers with `scripts/services start`, then run `eval "$(scripts/services env)"`'

/** A describe() for tests that need the MongoDB-protocol server (FLUX_TEST_MONGO_URL): failing under CI without it, skipped elsewhere. */
export const describeWithServer = (name: string, fn: (url: string) => void) =>
  describeServer('FLUX_TEST_MONGO_URL', name, fn, SERVICES_HINT)

/** A fresh database name, so that tests never share a ledger or a lease. */
export function randomDatabase(): string {
  return `flux_test_${randomBytes(6).toString('hex')}`
}

const admins = new Map<string, Promise<MongoClient>>()
afterAll(async () => {
  for (const client of admins.values()) await (await client).close()
  admins.clear()
})

/** One client per server for the tests' own reads, writes and clean-up; closed after the file. */
export function adminClient(url: string): Promise<MongoClient> {
  let client = admins.get(url)
  if (!client) {
    client = new MongoClient(url, { serverSelectionTimeoutMS: 5_000 }).connect()
    admins.set(url, client)
  }
  return client
}

/** A fresh database for one test, and the test's view of it. */
export async function freshDatabase(url: string): Promise<{ name: string; db: Db; drop: () => Promise<void> }> {
  const name = randomDatabase()
  const db = (await adminClient(url)).db(name)
  return { name, db, drop: async () => void (await db.dropDatabase()) }
}

/** What a database holds: whether the server lists it, and its collections. */
export async function databaseContents(db: Db): Promise<string[]> {
  const listed = await db.admin().listDatabases({ nameOnly: true })
  const exists = listed.databases.some((database) => database.name === db.databaseName)
  const collections = (await db.listCollections({}, { nameOnly: true }).toArray()).map(
    ({ name }) => `collection ${name}`,
  )
  return [...(exists ? [`database ${db.databaseName}`] : []), ...collections.sort()]
}

/** Conformance options over a server: a fresh database per test, dropped after it. */
export function conformanceOptions(url: string, extra: Partial<MongoStoreOptions> = {}): ConformanceOptions {
  return {
    async setup(): Promise<ConformanceStore> {
      const { name, db, drop } = await freshDatabase(url)
      return {
        create: () => mongoStore({ url, database: name, ...extra }),
        cleanup: drop,
        contents: () => databaseContents(db),
      }
    },
    secrets: [PASSWORD],
    unreachable: () => mongoStore({ url: UNREACHABLE_URL, connectTimeoutMs: 1_000 }),
  }
}
