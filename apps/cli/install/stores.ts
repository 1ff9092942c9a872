// The stores the quickstart runs against, one fresh place per run on the test servers (a
// database, a database index, a bucket) so that no other test's data is touched, with what a
// user would write in the first migration and a look at the store afterwards.
import { randomBytes } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3'

/** One run's store: the environment its config reads, the migration's code, and what it left. */
export interface StoreRun {
  /** The variables the README's table names, set to this run's place on the test server. */
  env: Record<string, string>
  /** Statements for `up()` and `down()`, with the migration's `store` in scope. */
  up: string
  down: string
  /** What `up()` left in the store, as text: the test compares it with {@link WRITTEN}. */
  written(project: string): Promise<string | undefined>
  /** Deletes the run's database, keys or bucket. */
  cleanup(): Promise<void>
}

/** What each run's migration writes. */
export const WRITTEN = 'hello from the quickstart'

/** The test-server variable each store needs: without it, its quickstart does not run. */
export const SERVER_VARIABLES: Record<string, string> = {
  '@flux/pg': 'FLUX_TEST_PG_URL',
  '@flux/mongo': 'FLUX_TEST_MONGO_URL',
  '@flux/redis': 'FLUX_TEST_REDIS_URL',
  '@flux/s3': 'FLUX_TEST_S3_ENDPOINT',
}

const text = JSON.stringify(WRITTEN)
const unique = () => `flux_install_${randomBytes(4).toString('hex')}`
// the drivers the adapters depend on, to look at the stores as an administrator
// (apps/cli depends on the adapters, not on the drivers: their few members used here are typed below)
const fromAdapter = (adapter: string) =>
  createRequire(createRequire(import.meta.url).resolve(`${adapter}/package.json`))

interface PgConnection {
  connect(): Promise<void>
  query<Row>(text: string): Promise<{ rows: Row[] }>
  end(): Promise<void>
}
interface PgDriver {
  Client: new (config: { connectionString: string }) => PgConnection
}
interface MongoConnection {
  db(name: string): {
    collection(name: string): { findOne(filter: object): Promise<Record<string, unknown> | null> }
    dropDatabase(): Promise<unknown>
  }
  close(): Promise<void>
}
interface MongoDriver {
  MongoClient: new (url: string, options: object) => MongoConnection
}
interface RedisConnection {
  connect(): Promise<void>
  select(index: number): Promise<unknown>
  dbsize(): Promise<number>
  keys(pattern: string): Promise<string[]>
  get(key: string): Promise<string | null>
  del(...keys: string[]): Promise<number>
  disconnect(): void
}
interface RedisDriver {
  Redis: new (url: string, options: object) => RedisConnection
}

export async function storeRun(adapter: string): Promise<StoreRun> {
  switch (adapter) {
    case '@flux/fs':
      return fsRun()
    case '@flux/pg':
      return pgRun(process.env.FLUX_TEST_PG_URL!)
    case '@flux/mongo':
      return mongoRun(process.env.FLUX_TEST_MONGO_URL!)
    case '@flux/redis':
      return redisRun(process.env.FLUX_TEST_REDIS_URL!)
    case '@flux/s3':
      return s3Run()
    default:
      throw new Error(`no store for ${adapter} in the install test: add one to install/stores.ts`)
  }
}

function fsRun(): StoreRun {
  return {
    env: {},
    up: `await store.put('photos/README.txt', ${text})`,
    down: `await store.delete('photos/README.txt')`,
    // the directory is the one `flux init` wrote into the config: found by its file
    async written(project) {
      const files = await readdir(project, { recursive: true })
      const found = files.find((file) => file.endsWith('photos/README.txt') && !file.startsWith('node_modules'))
      return found && (await readFile(join(project, found), 'utf8'))
    },
    async cleanup() {},
  }
}

async function pgRun(serverUrl: string): Promise<StoreRun> {
  const pg = fromAdapter('@flux/pg')('pg') as PgDriver
  const database = unique()
  const admin = new pg.Client({ connectionString: serverUrl })
  await admin.connect()
  try {
    await admin.query(`create database ${database}`)
  } finally {
    await admin.end()
  }
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  return {
    env: { DATABASE_URL: url.toString() },
    up: `await store.query("create table quickstart_photo (id int primary key, caption text not null)")
    await store.query('insert into quickstart_photo values (1, $1)', [${text}])`,
    down: `await store.query('drop table quickstart_photo')`,
    async written() {
      const client = new pg.Client({ connectionString: url.toString() })
      await client.connect()
      try {
        const { rows } = await client.query<{ caption: string }>('select caption from quickstart_photo where id = 1')
        return rows[0]?.caption
      } finally {
        await client.end()
      }
    },
    async cleanup() {
      const client = new pg.Client({ connectionString: serverUrl })
      await client.connect()
      try {
        await client.query(`drop database if exists ${database} with (force)`)
      } finally {
        await client.end()
      }
    },
  }
}

async function mongoRun(serverUrl: string): Promise<StoreRun> {
  const { MongoClient } = fromAdapter('@flux/mongo')('mongodb') as MongoDriver
  const database = unique()
  const url = new URL(serverUrl)
  url.pathname = `/${database}`
  const withClient = async <T>(body: (client: MongoConnection) => Promise<T>): Promise<T> => {
    const client = new MongoClient(serverUrl, { serverSelectionTimeoutMS: 5_000 })
    try {
      return await body(client)
    } finally {
      await client.close()
    }
  }
  return {
    env: { MONGO_URL: url.toString() },
    up: `await store.db.collection('quickstart_photos').insertOne({ photo: 'first', caption: ${text} }, { session: store.session })`,
    down: `await store.db.collection('quickstart_photos').drop()`,
    written: () =>
      withClient(async (client) => {
        const photo = await client.db(database).collection('quickstart_photos').findOne({ photo: 'first' })
        return photo?.caption as string | undefined
      }),
    cleanup: () =>
      withClient((client) =>
        client
          .db(database)
          .dropDatabase()
          .then(() => {}),
      ),
  }
}

async function redisRun(serverUrl: string): Promise<StoreRun> {
  const { Redis } = fromAdapter('@flux/redis')('ioredis') as RedisDriver
  // a database index nobody uses, found empty; only the keys this run made are deleted after it
  const admin = new Redis(serverUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await admin.connect()
  let index: number | undefined
  try {
    for (const candidate of shuffled([9, 10, 11, 12, 13, 14, 15])) {
      await admin.select(candidate)
      if ((await admin.dbsize()) === 0) {
        index = candidate
        break
      }
    }
  } finally {
    admin.disconnect()
  }
  if (index === undefined) throw new Error(`${serverUrl}: no empty database index among 9-15 for the install test`)
  const url = new URL(serverUrl)
  url.pathname = `/${index}`
  const key = `quickstart:${unique()}`
  const withClient = async <T>(body: (client: RedisConnection) => Promise<T>): Promise<T> => {
    const client = new Redis(url.toString(), { lazyConnect: true, maxRetriesPerRequest: 1 })
    await client.connect()
    try {
      return await body(client)
    } finally {
      client.disconnect()
    }
  }
  const made = new Set<string>()
  return {
    env: { REDIS_URL: url.toString() },
    up: `await store.redis.set(${JSON.stringify(key)}, ${text})`,
    down: `await store.redis.del(${JSON.stringify(key)})`,
    written: () =>
      withClient(async (client) => {
        for (const name of await client.keys('*')) made.add(name)
        return (await client.get(key)) ?? undefined
      }),
    cleanup: () =>
      withClient(async (client) => {
        for (const name of await client.keys('*')) made.add(name)
        if (made.size > 0) await client.del(...made)
      }),
  }
}

async function s3Run(): Promise<StoreRun> {
  const endpoint = process.env.FLUX_TEST_S3_ENDPOINT!
  const region = process.env.FLUX_TEST_S3_REGION ?? 'us-east-1'
  const credentials = {
    accessKeyId: process.env.FLUX_TEST_S3_ACCESS_KEY_ID!,
    secretAccessKey: process.env.FLUX_TEST_S3_SECRET_ACCESS_KEY!,
  }
  const bucket = unique().replaceAll('_', '-')
  const s3 = new S3Client({ endpoint, region, credentials, forcePathStyle: true })
  await s3.send(new CreateBucketCommand({ Bucket: bucket }))
  const keys = async () =>
    ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((object) => object.Key!)
  return {
    env: {
      S3_BUCKET: bucket,
      S3_ENDPOINT: endpoint,
      AWS_REGION: region,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    up: `await store.put('photos/README.txt', ${text})`,
    down: `await store.delete('photos/README.txt')`,
    async written() {
      const key = (await keys()).find((name) => name.endsWith('photos/README.txt'))
      if (!key) return undefined
      return (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString()
    },
    async cleanup() {
      const left = await keys()
      if (left.length > 0) {
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: left.map((Key) => ({ Key })) } }))
      }
      await s3.send(new DeleteBucketCommand({ Bucket: bucket }))
      s3.destroy()
    },
  }
}

function shuffled<T>(items: T[]): T[] {
  return items
    .map((item) => ({ item, order: Math.random() }))
    .sort((a, b) => a.order - b.order)
    .map(({ item }) => item)
}
