// The host's side of `scripts/image test`: what the image's migrations left in the test servers,
// and the clean-up of this run's places there. The drivers come from the adapters' packages.
//
//   node stores.mjs effects   one JSON object: what 002..005 wrote (null where nothing is)
//   node stores.mjs createdb  creates the pg database PG_DATABASE (the README example's)
//   node stores.mjs cleanup   drops the pg schema and database and the mongo database, deletes
//                             the redis keys and the s3 objects
//
// The run's places come from the environment: PG_SCHEMA, PG_DATABASE, REDIS_PREFIX,
// MONGO_DATABASE, S3_BUCKET and S3_PREFIX; the servers from FLUX_TEST_* (scripts/services env).
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const driver = (adapter, name) => createRequire(join(root, 'packages', adapter, 'package.json'))(name)
const { env } = process
const named = (value, what) => {
  // names go into SQL and key patterns: only the test's own shape is accepted
  if (!/^flux_image_[a-z0-9_]+$/.test(value ?? '')) throw new Error(`${what} is not a test name: ${value}`)
  return value
}
const schema = named(env.PG_SCHEMA, 'PG_SCHEMA')
const pgDatabase = named(env.PG_DATABASE, 'PG_DATABASE')
const prefix = named(env.REDIS_PREFIX, 'REDIS_PREFIX')
const database = named(env.MONGO_DATABASE, 'MONGO_DATABASE')
const s3Prefix = `${named(env.S3_PREFIX?.replace(/\/$/, ''), 'S3_PREFIX')}/`

async function withPg(body) {
  const { Client } = driver('pg', 'pg')
  const client = new Client({ connectionString: env.FLUX_TEST_PG_URL })
  await client.connect()
  try {
    return await body(client)
  } finally {
    await client.end()
  }
}

async function withRedis(body) {
  const { Redis } = driver('redis', 'ioredis')
  const client = new Redis(env.FLUX_TEST_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  await client.connect()
  try {
    return await body(client)
  } finally {
    client.disconnect()
  }
}

async function withMongo(body) {
  const { MongoClient } = driver('mongo', 'mongodb')
  const client = new MongoClient(env.FLUX_TEST_MONGO_URL, { serverSelectionTimeoutMS: 5_000 })
  try {
    return await body(client.db(database))
  } finally {
    await client.close()
  }
}

async function withS3(body) {
  const sdk = driver('s3', '@aws-sdk/client-s3')
  const client = new sdk.S3Client({
    endpoint: env.FLUX_TEST_S3_ENDPOINT,
    region: env.FLUX_TEST_S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.FLUX_TEST_S3_ACCESS_KEY_ID, secretAccessKey: env.FLUX_TEST_S3_SECRET_ACCESS_KEY },
  })
  try {
    return await body(client, sdk)
  } finally {
    client.destroy()
  }
}

async function effects() {
  const pg = await withPg(async (client) => {
    const { rows } = await client.query('select to_regclass($1) as found', [`"${schema}".image_note`])
    if (!rows[0].found) return null
    return (await client.query(`select body from "${schema}".image_note where id = 1`)).rows[0]?.body ?? null
  })
  const redis = await withRedis((client) => client.get(`${prefix}:note`))
  const mongo = await withMongo(async (db) => (await db.collection('notes').findOne({}))?.note ?? null)
  const s3 = await withS3(async (client, sdk) => {
    try {
      const object = await client.send(new sdk.GetObjectCommand({ Bucket: env.S3_BUCKET, Key: `${s3Prefix}note.txt` }))
      return (await object.Body.transformToString()).trim()
    } catch (error) {
      if (error.name === 'NoSuchKey') return null
      throw error
    }
  })
  return { pg, redis, mongo, s3 }
}

async function cleanup() {
  await withPg(async (client) => {
    await client.query(`drop schema if exists "${schema}" cascade`)
    await client.query(`drop database if exists "${pgDatabase}" with (force)`)
  })
  await withRedis(async (client) => {
    // flux's keys ({prefix}:ledger, ...) and the migration's (prefix:note)
    for (const pattern of [`{${prefix}}:*`, `${prefix}:*`]) {
      const keys = await client.keys(pattern)
      if (keys.length > 0) await client.del(...keys)
    }
  })
  await withMongo((db) => db.dropDatabase())
  await withS3(async (client, sdk) => {
    for (;;) {
      const listed = await client.send(new sdk.ListObjectsV2Command({ Bucket: env.S3_BUCKET, Prefix: s3Prefix }))
      const objects = (listed.Contents ?? []).map(({ Key }) => ({ Key }))
      if (objects.length === 0) break
      await client.send(new sdk.DeleteObjectsCommand({ Bucket: env.S3_BUCKET, Delete: { Objects: objects } }))
    }
  })
}

const command = process.argv[2]
if (command === 'effects') console.log(JSON.stringify(await effects()))
else if (command === 'cleanup') await cleanup()
else if (command === 'createdb') await withPg((client) => client.query(`create database "${pgDatabase}"`))
else {
  console.error('usage: node stores.mjs effects|createdb|cleanup')
  process.exitCode = 2
}
