// The stores the fault suite runs against, each on its real server, in a fresh namespace per
// test. Every migration records its own application in the store in a way that counts (a row,
// a document, a list item, a blob per application, tagged with the runner's pid), so the tests
// can tell a double apply or a lost one independently of the ledger.
import { randomBytes } from 'node:crypto'
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import type { Adapter } from '@flux/core'
import type { MongoStoreClient } from '@flux/mongo'
import { mongoStore } from '@flux/mongo'
import type { PgClient } from '@flux/pg'
import { pgStore } from '@flux/pg'
import type { RedisClient } from '@flux/redis'
import { redisStore } from '@flux/redis'

export type StoreName = 'fs' | 'pglite' | 'pg' | 'redis' | 'redis-cluster' | 'mongo' | 's3'

/** One application of a migration, as the store itself recorded it. */
export interface Effect {
  /** The migration's name (`001_a`). */
  name: string
  /** Pid of the runner that applied it. */
  pid: number
}

/** A fresh namespace on one store (a schema, a database, a prefix, a folder), for one test. */
export interface Namespace {
  /** The store's factory call, for flux.config.ts. */
  config: string
  /** Statements for a migration's `up({ store })` that record one application of `name`, in its transaction where it has one. */
  effect(name: string): string
  /** Every application recorded in the store. */
  effects(): Promise<Effect[]>
  cleanup(): Promise<void>
}

export interface FaultStore {
  name: StoreName
  /** The environment variable naming the test server (set by `scripts/services env`); none for fs and PGlite. */
  variable?: string
  /** The config's import of the store's factory. */
  imports: string
  /** A migration commits with its ledger record: a killed or stale runner's migration leaves nothing. */
  transactional: boolean
  /**
   * What the adapter contract ("Fencing, store by store") promises of a stale runner's writes:
   * `migration fenced` (its transaction never commits), `ledger fenced` (its ledger writes are
   * refused, its in-flight migration's own writes are not), `exclusive open` (PGlite: one
   * process at a time opens the directory, so nobody can take over).
   */
  contract: string
  /** The server a TCP proxy can stand in front of, or why no connection can be cut. */
  upstream(): { host: string; port: number } | { unavailable: string }
  /** A fresh namespace; `port` is a proxy's, to reach the server through it. */
  create(dir: string, port?: number): Promise<Namespace>
}

const env = process.env
const unique = (label: string) => `${label}_${randomBytes(5).toString('hex')}`
const literal = (value: unknown) => JSON.stringify(value)

/** `url` with its host and port replaced by the proxy's. */
function through(url: string, port: number | undefined): string {
  if (port === undefined) return url
  const parsed = new URL(url)
  parsed.hostname = '127.0.0.1'
  parsed.port = String(port)
  return parsed.toString()
}

function hostOf(url: string | undefined): { host: string; port: number } | { unavailable: string } {
  if (!url) return { unavailable: 'no test server' }
  const parsed = new URL(url)
  return { host: parsed.hostname, port: Number(parsed.port) }
}

/** An adapter of the store, opened by the test itself to look at it: never one a runner uses. */
async function opened<Client>(adapter: Adapter<Client>): Promise<{ client: Client; close: () => Promise<void> }> {
  await adapter.open()
  return { client: adapter.client(), close: () => adapter.close() }
}

/** `effects/<name>/<pid>-<uuid>` keys of a blob store, as effects (temp files of unfinished writes are not). */
function blobEffects(keys: string[]): Effect[] {
  const effects: Effect[] = []
  for (const key of keys) {
    const match = /^effects\/([^/]+)\/(\d+)-[0-9a-f-]{36}$/.exec(key)
    if (match) effects.push({ name: match[1]!, pid: Number(match[2]) })
  }
  return effects
}

const blobEffect = (name: string) =>
  `await store.put(\`effects/${name}/\${process.pid}-\${crypto.randomUUID()}\`, 'applied')`

// the contract's promise, as the table says it (see "Fencing, store by store" in @flux/core's adapter.ts):
// ledger writes fenced, the own writes of a migration in flight when its runner froze not
const NOT_FENCED = 'ledger fenced'

const fs: FaultStore = {
  name: 'fs',
  imports: "import { fsStore } from '@flux/fs'",
  transactional: false,
  contract: NOT_FENCED,
  upstream: () => ({ unavailable: 'a local directory, no connection' }),
  async create(dir) {
    const root = join(dir, 'var', 'files')
    return {
      config: `fsStore({ root: ${literal(root)} })`,
      effect: blobEffect,
      async effects() {
        const keys = await readdir(join(root, 'effects'), { recursive: true }).catch(() => [] as string[])
        return blobEffects(keys.map((key) => `effects/${key.split('\\').join('/')}`))
      },
      cleanup: () => rm(root, { recursive: true, force: true }),
    }
  },
}

/** A table of effects in `schema`, written in the migration's transaction. */
function pgNamespace(config: string, schema: string, probe: () => Adapter<PgClient>, keepOpen: boolean): Namespace {
  const table = `"${schema}".fault_effects`
  let kept: Promise<{ client: PgClient; close: () => Promise<void> }> | undefined
  const use = async <T>(body: (client: PgClient) => Promise<T>): Promise<T> => {
    if (keepOpen) {
      kept ??= opened(probe())
      return body((await kept).client)
    }
    // PGlite lets one process at a time open its directory: the test opens it only between runs
    const once = await opened(probe())
    try {
      return await body(once.client)
    } finally {
      await once.close()
    }
  }
  return {
    config,
    effect: (name) =>
      `await store.query('insert into ${table} (name, pid) values ($1, $2)', [${literal(name)}, process.pid])`,
    async effects() {
      const { rows } = await use((client) =>
        client.query<{ name: string; pid: number }>(`select name, pid from ${table} order by name`),
      )
      return rows
    },
    async cleanup() {
      if (keepOpen) await use((client) => client.query(`drop schema if exists "${schema}" cascade`))
      await (await kept)?.close()
    },
  }
}

async function createEffectsTable(probe: Adapter<PgClient>, schema: string): Promise<void> {
  const { client, close } = await opened(probe)
  try {
    await client.query(
      `create schema if not exists "${schema}"; create table "${schema}".fault_effects (name text not null, pid int not null)`,
    )
  } finally {
    await close()
  }
}

const pglite: FaultStore = {
  name: 'pglite',
  imports: "import { pgStore } from '@flux/pg'",
  transactional: true,
  contract: 'exclusive open',
  upstream: () => ({ unavailable: 'embedded, no connection' }),
  async create(dir) {
    const dataDir = join(dir, 'var', 'pg')
    const probe = () => pgStore({ pglite: dataDir })
    await createEffectsTable(probe(), 'public')
    return pgNamespace(`pgStore({ pglite: ${literal(dataDir)} })`, 'public', probe, false)
  },
}

const pg: FaultStore = {
  name: 'pg',
  imports: "import { pgStore } from '@flux/pg'",
  variable: 'FLUX_TEST_PG_URL',
  transactional: true,
  contract: 'migration fenced',
  upstream: () => hostOf(env.FLUX_TEST_PG_URL),
  async create(_dir, port) {
    const url = env.FLUX_TEST_PG_URL!
    const schema = unique('faults')
    const probe = () => pgStore({ url, schema })
    await createEffectsTable(probe(), schema)
    return pgNamespace(
      `pgStore({ url: ${literal(through(url, port))}, schema: ${literal(schema)} })`,
      schema,
      probe,
      true,
    )
  },
}

function redisKit(name: 'redis' | 'redis-cluster'): FaultStore {
  const cluster = name === 'redis-cluster'
  const nodes = () => env.FLUX_TEST_REDIS_CLUSTER!.split(',').filter(Boolean)
  return {
    name,
    imports: "import { redisStore } from '@flux/redis'",
    variable: cluster ? 'FLUX_TEST_REDIS_CLUSTER' : 'FLUX_TEST_REDIS_URL',
    transactional: false,
    contract: NOT_FENCED,
    upstream: () => (cluster ? { unavailable: 'nodes announce their own addresses' } : hostOf(env.FLUX_TEST_REDIS_URL)),
    async create(_dir, port) {
      const prefix = unique('faults')
      const key = `{${prefix}}:effects`
      const { client, close } = await opened<RedisClient>(
        cluster
          ? redisStore({ cluster: { nodes: nodes() }, prefix })
          : redisStore({ url: env.FLUX_TEST_REDIS_URL!, prefix }),
      )
      const target = cluster
        ? `cluster: { nodes: ${literal(nodes())} }`
        : `url: ${literal(through(env.FLUX_TEST_REDIS_URL!, port))}`
      return {
        config: `redisStore({ ${target}, prefix: ${literal(prefix)} })`,
        effect: (migration) => `await store.redis.rpush(${literal(key)}, \`${migration} \${process.pid}\`)`,
        async effects() {
          const items = await client.redis.lrange(key, 0, -1)
          return items.map((item) => {
            const [migration, pid] = item.split(' ')
            return { name: migration!, pid: Number(pid) }
          })
        },
        async cleanup() {
          const keys: string[] = []
          for await (const found of client.scan(`{${prefix}}:*`)) keys.push(found)
          for (const found of keys) await client.redis.del(found)
          await close()
        },
      }
    },
  }
}

const mongo: FaultStore = {
  name: 'mongo',
  imports: "import { mongoStore } from '@flux/mongo'",
  variable: 'FLUX_TEST_MONGO_URL',
  transactional: false,
  contract: NOT_FENCED,
  upstream: () => hostOf(env.FLUX_TEST_MONGO_URL),
  async create(_dir, port) {
    const url = env.FLUX_TEST_MONGO_URL!
    const database = unique('faults')
    const { client, close } = await opened<MongoStoreClient>(mongoStore({ url, database }))
    const collection = client.db.collection<Effect>('fault_effects')
    return {
      config: `mongoStore({ url: ${literal(through(url, port))}, database: ${literal(database)} })`,
      effect: (name) =>
        `await store.db.collection('fault_effects').insertOne({ name: ${literal(name)}, pid: process.pid }, store.session ? { session: store.session } : {})`,
      async effects() {
        return (await collection.find({}, { projection: { _id: 0 } }).toArray()).map(({ name, pid }) => ({ name, pid }))
      },
      async cleanup() {
        await client.db.dropDatabase()
        await close()
      },
    }
  },
}

let s3Admin: S3Client | undefined
const s3: FaultStore = {
  name: 's3',
  imports: "import { s3Store } from '@flux/s3'",
  variable: 'FLUX_TEST_S3_ENDPOINT',
  transactional: false,
  contract: NOT_FENCED,
  upstream: () => hostOf(env.FLUX_TEST_S3_ENDPOINT),
  async create(_dir, port) {
    const endpoint = env.FLUX_TEST_S3_ENDPOINT!
    const bucket = env.FLUX_TEST_S3_BUCKET ?? 'flux-test'
    const region = env.FLUX_TEST_S3_REGION ?? 'us-east-1'
    const credentials = {
      accessKeyId: env.FLUX_TEST_S3_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.FLUX_TEST_S3_SECRET_ACCESS_KEY ?? '',
    }
    // the runners read them from the environment, as users give them
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    })
    s3Admin ??= new S3Client({ endpoint, region, forcePathStyle: true, credentials })
    const admin = s3Admin
    const prefix = `${unique('faults')}/`
    const keys = async (under: string) => {
      const found: string[] = []
      let ContinuationToken: string | undefined
      do {
        const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: under, ContinuationToken }))
        for (const object of page.Contents ?? []) found.push(object.Key!)
        ContinuationToken = page.NextContinuationToken
      } while (ContinuationToken)
      return found
    }
    const options = {
      bucket,
      prefix,
      endpoint: through(endpoint, port).replace(/\/$/, ''),
      region,
      forcePathStyle: true,
    }
    return {
      config: `s3Store(${literal(options)})`,
      effect: blobEffect,
      async effects() {
        return blobEffects((await keys(`${prefix}effects/`)).map((key) => key.slice(prefix.length)))
      },
      async cleanup() {
        const all = await keys(prefix)
        for (let start = 0; start < all.length; start += 1000) {
          const Objects = all.slice(start, start + 1000).map((Key) => ({ Key }))
          await admin.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } }))
        }
      },
    }
  },
}

/** Every store of the suite, in the order of the table. */
export const FAULT_STORES: readonly FaultStore[] = [
  fs,
  pglite,
  pg,
  redisKit('redis'),
  redisKit('redis-cluster'),
  mongo,
  s3,
]

/** How many times each migration was applied, by name. */
export function countByName(effects: readonly Effect[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const effect of effects) counts.set(effect.name, (counts.get(effect.name) ?? 0) + 1)
  return counts
}
