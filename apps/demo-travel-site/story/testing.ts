// For the demo's tests: the five stores opened as the config describes them (their clients,
// as a migration gets them), and a cleanup that removes everything a run left behind,
// flux's ledgers included.
import { rm } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname } from 'node:path'
import type { Adapter } from '@flux/core'
import type { FsClient } from '@flux/fs'
import type { MongoStoreClient } from '@flux/mongo'
import type { PgClient } from '@flux/pg'
import type { RedisClient } from '@flux/redis'
import type { S3Client } from '@flux/s3'

export interface TravelStores {
  catalog: PgClient
  photos: FsClient
  visitors: RedisClient
  trips: MongoStoreClient
  media: S3Client
  close(): Promise<void>
}

/** Opens every store of the config for `env` (the photos store too, retired or not). */
export async function openStores(env: Record<string, string>): Promise<TravelStores> {
  // importing the config evaluates its default export with this process's variables too
  // and the S3 SDK reads its credentials from them
  for (const name of [
    'DATABASE_URL',
    'REDIS_URL',
    'MONGODB_URL',
    'S3_BUCKET',
    'S3_ENDPOINT',
    'AWS_REGION',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
  ]) {
    if (env[name] !== undefined) process.env[name] ??= env[name]
  }
  const { travelConfig } = await import('../flux.config.ts')
  const config = travelConfig({ ...env, DEMO_RELEASE: '4', DEMO_KEEP_PHOTOS: '1' })
  const adapters = Object.entries(config.stores) as [keyof TravelStores, Adapter][]
  const opened: Adapter[] = []
  try {
    for (const [, adapter] of adapters) {
      await adapter.open()
      opened.push(adapter)
    }
  } catch (error) {
    await Promise.all(opened.map((adapter) => adapter.close()))
    throw error
  }
  const clients = Object.fromEntries(adapters.map(([name, adapter]) => [name, adapter.client()]))
  return {
    ...(clients as Omit<TravelStores, 'close'>),
    close: async () => {
      await Promise.all(opened.map((adapter) => adapter.close()))
    },
  }
}

/** Removes the schema, keys, database, objects and folder of `env`'s isolation names. */
export async function dropStores(env: Record<string, string>): Promise<void> {
  const stores = await openStores(env)
  try {
    await stores.catalog.query(`drop schema if exists "${env.DEMO_PG_SCHEMA}" cascade`)
    const redis = stores.visitors.redis
    for (const pattern of [`${env.DEMO_REDIS_PREFIX}:*`, `{${env.DEMO_REDIS_PREFIX}}:*`]) {
      const keys = await redis.keys(pattern)
      if (keys.length > 0) await redis.del(...keys)
    }
    await stores.trips.db.dropDatabase()
    await deletePrefix(stores.media)
  } finally {
    await stores.close()
  }
  if (env.DEMO_PHOTOS_DIR) await rm(dirname(env.DEMO_PHOTOS_DIR), { recursive: true, force: true })
}

/** Every object under the s3 store's prefix, flux's own `.flux/` ones too (the blob API hides those). */
export async function deletePrefix(media: S3Client): Promise<void> {
  // the SDK is @flux/s3's dependency, not the demo's: load it from there
  const sdk = createRequire(import.meta.resolve('@flux/s3'))('@aws-sdk/client-s3')
  for (;;) {
    const listed = (await media.client.send(
      new sdk.ListObjectsV2Command({ Bucket: media.bucket, Prefix: media.prefix }),
    )) as { Contents?: { Key: string }[] }
    const keys = (listed.Contents ?? []).map((object: { Key: string }) => ({ Key: object.Key }))
    if (keys.length === 0) return
    await media.client.send(new sdk.DeleteObjectsCommand({ Bucket: media.bucket, Delete: { Objects: keys } }))
  }
}

/** The variables of the servers the story needs, as `scripts/services env` prints them. */
export const SERVER_VARIABLES = [
  'FLUX_TEST_PG_URL',
  'FLUX_TEST_REDIS_URL',
  'FLUX_TEST_MONGO_URL',
  'FLUX_TEST_S3_BUCKET',
]

/**
 * Whether the servers are there: without them the story tests are skipped, except under CI,
 * where they fail, saying how to start them.
 */
export function whenServers(): boolean {
  const missing = SERVER_VARIABLES.filter((name) => !process.env[name])
  if (missing.length === 0) return true
  if (process.env.CI === 'true')
    throw new Error(
      `${missing.join(', ')} not set: start the servers with \`./scripts/services start\` and \`eval "$(./scripts/services env)"\``,
    )
  return false
}
