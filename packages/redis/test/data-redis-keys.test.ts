import { copy, type DataKey, FluxError, verifyCopy } from '@flux/core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { mongoDocuments } from '../../mongo/src/index.ts'
import type { MongoStoreClient } from '../../mongo/src/mongo-client.ts'
import { freshDatabase } from '../../mongo/test/mongo-test-helpers.ts'
import { type PgClient, pgRows } from '../../pg/src/index.ts'
import { adminPool, randomSchema } from '../../pg/test/pg-test-helpers.ts'
import { type RedisClient, type RedisEntry, redisKeys, redisStore } from '../src/index.ts'
import { deleteMatching, describeWith, globOf, keysMatching, randomName, TARGETS } from './redis-test-helpers.ts'

const KEYS = 3_000
const PG_URL = process.env.FLUX_TEST_PG_URL
const MONGO_URL = process.env.FLUX_TEST_MONGO_URL

/** The parts of a migration's context a copy uses; `failAfter` kills the run after that many saves. */
function context(value?: unknown, failAfter = Number.POSITIVE_INFINITY) {
  const saves: unknown[] = []
  return {
    saves,
    checkpoint: {
      value,
      async save(next: unknown) {
        saves.push(JSON.parse(JSON.stringify(next)))
        if (saves.length >= failAfter) throw new Error('killed')
      },
    },
    progress: () => ({ advance: () => {}, set: () => {} }),
    signal: new AbortController().signal,
  }
}

/** Key `index` of the seeded data: every type in turn, every 7th with a TTL. */
function entryOf(ns: string, index: number): RedisEntry {
  const key = `${ns}:src:${index}`
  const ttl = index % 7 === 0 ? 3_600_000 : undefined
  const entry = (): RedisEntry => {
    switch (index % 5) {
      case 0:
        return { key, type: 'string', value: `value ${index}` }
      case 1:
        return { key, type: 'hash', value: { name: `hotel ${index}`, stars: String(index % 5) } }
      case 2:
        return { key, type: 'set', value: [`a${index}`, `b${index}`] }
      case 3:
        return {
          key,
          type: 'zset',
          value: [
            { member: `m${index}`, score: index },
            { member: `n${index}`, score: -1.5 },
          ],
        }
      default:
        return { key, type: 'list', value: [`first ${index}`, `second ${index}`, `first ${index}`] }
    }
  }
  return ttl === undefined ? entry() : { ...entry(), ttl }
}

/** A sorted set's members and scores, flat, lowest score first. */
async function zrange(store: RedisClient, key: string): Promise<string[]> {
  // RESP3 answers member, score pairs
  return ((await store.redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')) as unknown[]).flat().map(String)
}

/** What a key holds, read back for comparison: type, value (sets sorted) and whether it expires. */
async function contents(store: RedisClient, key: string) {
  const redis = store.redis
  const type = await redis.type(key)
  const value =
    type === 'string'
      ? await redis.get(key)
      : type === 'hash'
        ? await redis.hgetall(key)
        : type === 'set'
          ? (await redis.smembers(key)).sort()
          : type === 'zset'
            ? await zrange(store, key)
            : await redis.lrange(key, 0, -1)
  const ttl = await redis.pttl(key)
  return { type, value, expires: ttl > 0 }
}

for (const target of TARGETS) {
  describeWith(target, 'redisKeys as a data toolkit source and target', () => {
    const ns = randomName('data')
    const store = redisStore(target.options(randomName('data-ledger')))
    let client: RedisClient
    beforeAll(async () => {
      await store.open()
      client = store.client() as RedisClient
      await redisKeys(client).write(Array.from({ length: KEYS }, (_, index) => entryOf(ns, index)))
      await target.admin().set(`${ns}:other:1`, 'not matched')
    })
    afterAll(async () => {
      await deleteMatching(target.admin(), globOf(`${ns}:`))
      await store.close()
    })

    it('copies every key of every type with its TTL; killed after a checkpoint, resumes at its SCAN cursor without reading earlier keys again', async () => {
      const source = redisKeys(client, { match: `${ns}:src:*` })
      const read: string[][] = []
      const logged = {
        ...source,
        async *read(after: DataKey | undefined, batchSize: number) {
          const run: string[] = []
          read.push(run)
          for await (const batch of source.read(after, batchSize)) {
            run.push(...batch.map((entry) => entry.key))
            yield batch
          }
        },
      }
      const to = redisKeys(client)
      const rename = (entry: RedisEntry): RedisEntry => ({ ...entry, key: entry.key.replace(':src:', ':dst:') })
      const first = context(undefined, 2)
      await expect(copy({ from: logged, to, transform: rename, batchSize: 500, context: first })).rejects.toThrow(
        'killed',
      )
      const checkpoint = first.saves.at(-1) as { after: { cursor: string }; read: number }
      expect(checkpoint.after.cursor).toMatch(/^\d+$/)
      // the keys of the two batches whose checkpoints were saved (a batch ends where a master's keys or a SCAN page end)
      const beforeCheckpoint = read[0]!.slice(0, checkpoint.read)
      expect(checkpoint.read).toBeGreaterThan(0)
      expect(checkpoint.read).toBeLessThan(KEYS)

      const second = context(checkpoint)
      await copy({ from: logged, to, transform: rename, batchSize: 500, context: second })
      const resumed = new Set(read[1])
      expect(beforeCheckpoint.filter((key) => resumed.has(key))).toEqual([])
      // every key was read in one run or the other
      expect(new Set([...beforeCheckpoint, ...read[1]!]).size).toBe(KEYS)

      expect(await keysMatching(target.admin(), `${ns}:dst:*`)).toHaveLength(KEYS)
      for (const index of [0, 1, 2, 3, 4, 7, 14, 2_999]) {
        const copied = await contents(client, `${ns}:dst:${index}`)
        expect(copied).toEqual(await contents(client, `${ns}:src:${index}`))
        expect(copied.expires).toBe(index % 7 === 0)
      }
      expect(await zrange(client, `${ns}:dst:3`)).toEqual(['n3', '-1.5', 'm3', '3'])
      expect(await client.redis.lrange(`${ns}:dst:4`, 0, -1)).toEqual(['first 4', 'second 4', 'first 4'])

      // a batch written twice leaves the same values (a list is not appended to twice)
      const { value: again } = await source.read(undefined, 500)[Symbol.asyncIterator]().next()
      await to.write(again!.map(rename))
      await to.write(again!.map(rename))
      expect(await client.redis.lrange(`${ns}:dst:4`, 0, -1)).toEqual(['first 4', 'second 4', 'first 4'])
      const report = await verifyCopy({
        from: source,
        to: redisKeys(client, { match: `${ns}:dst:*`, idOf: (key) => key.replace(':dst:', ':src:') }),
        checksum: true,
      })
      expect(report.ok).toBe(true)
      expect(report.from.count).toBe(KEYS)
    })

    it('a checkpoint from other servers (a restarted one: another run_id) starts over from the first key', async () => {
      const source = redisKeys(client, { match: `${ns}:src:*`, type: 'hash' })
      const [, checkpoint] = await (async () => {
        const run = context(undefined, 1)
        await copy({ from: source, to: redisKeys(client), batchSize: 100, context: run }).catch(() => {})
        return [run, run.saves[0] as { after: Record<string, DataKey> }]
      })()
      const stale = { ...checkpoint, after: { ...checkpoint.after, servers: 'another-server' } }
      const result = await copy({ from: source, to: redisKeys(client), batchSize: 100, context: context(stale) })
      expect(result.read).toBe(KEYS / 5)
    })

    it.skipIf(!PG_URL)('copies a pg table into hashes, and verifyCopy maps keys back to ids', async () => {
      const pool = adminPool(PG_URL!)
      const schema = randomSchema()
      await pool.query(`create schema ${schema}`)
      try {
        await pool.query(`create table ${schema}.hotel (id int primary key, name text, city text)`)
        await pool.query(
          `insert into ${schema}.hotel select n, 'hotel ' || n, 'city ' || (n % 13) from generate_series(1, 2000) as n`,
        )
        const from = pgRows(pool as unknown as PgClient, { table: `${schema}.hotel` })
        const to = redisKeys(client, {
          match: `${ns}:hotel:*`,
          idOf: (key) => Number(key.slice(`${ns}:hotel:`.length)),
        })
        const result = await copy({
          from,
          to,
          transform: (row): RedisEntry => ({
            key: `${ns}:hotel:${row.id}`,
            type: 'hash',
            value: { name: row.name, city: row.city },
          }),
          batchSize: 300,
        })
        expect(result).toMatchObject({ read: 2_000, written: 2_000, batches: 7 })
        expect(await client.redis.hgetall(`${ns}:hotel:1234`)).toEqual({ name: 'hotel 1234', city: 'city 12' })
        expect((await verifyCopy({ from, to, checksum: true })).ok).toBe(true)

        await client.redis.del(`${ns}:hotel:77`)
        await client.redis.hset(`${ns}:hotel:9999`, { name: 'stray' })
        const error = await verifyCopy({ from, to, checksum: true }).catch((caught: unknown) => caught)
        expect(FluxError.is(error) && error.code).toBe('INTEGRITY')
        expect((error as Error).message).toBe(
          `the copy does not match its source: pg table ${schema}.hotel has 2000 rows, redis keys ${ns}:hotel:* has 2000; missing from the target: 77; extra in the target: 9999`,
        )
      } finally {
        await pool.query(`drop schema ${schema} cascade`)
      }
    })

    it.skipIf(!MONGO_URL)('copies hashes into a mongo collection, one document per key', async () => {
      const database = await freshDatabase(MONGO_URL!)
      try {
        const from = redisKeys(client, { match: `${ns}:src:*`, type: 'hash' })
        const to = mongoDocuments({ db: database.db, session: undefined } as MongoStoreClient, 'hotels')
        const result = await copy({
          from,
          to,
          transform: (entry) => ({ _id: entry.key, ...(entry.value as Record<string, string>) }),
          batchSize: 250,
        })
        expect(result.read).toBe(KEYS / 5)
        expect(await database.db.collection('hotels').findOne({ _id: `${ns}:src:11` as never })).toEqual({
          _id: `${ns}:src:11`,
          name: 'hotel 11',
          stars: '1',
        })
        expect((await verifyCopy({ from, to, checksum: true })).ok).toBe(true)
      } finally {
        await database.drop()
      }
    })
  })
}
