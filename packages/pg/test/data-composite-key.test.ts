import { copy, type DataKey, verifyCopy } from '@flux/core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type PgClient, pgRows } from '../src/index.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

/** 25 hotels × 100 stays: each `id` appears in every hotel, so only the pair orders and identifies a row. */
const HOTELS = 25
const STAYS = 100

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

describeWithServer('pgRows with a composite key', (url) => {
  const pool = adminPool(url)
  const client = pool as unknown as PgClient
  const schema = randomSchema()
  beforeAll(async () => {
    await pool.query(`create schema ${schema}`)
    for (const table of ['stay', 'stay_copy'])
      await pool.query(`create table ${schema}.${table} (hotel_id int, id int, note text, primary key (hotel_id, id))`)
    await pool.query(
      `insert into ${schema}.stay select h, n, 'stay ' || h || '/' || n from generate_series(1, ${HOTELS}) as h, generate_series(1, ${STAYS}) as n`,
    )
  })
  afterAll(async () => {
    await pool.query(`drop schema ${schema} cascade`)
  })

  it('reads in (hotel_id, id) order by row-value keyset, resumes after a checkpoint without reading earlier rows, and upserts on both columns', async () => {
    const source = pgRows(client, { table: `${schema}.stay`, key: ['hotel_id', 'id'] })
    const target = pgRows(client, { table: `${schema}.stay_copy`, key: ['hotel_id', 'id'] })
    const starts: (DataKey | undefined)[] = []
    const seen: string[] = []
    const logged = {
      ...source,
      async *read(after: DataKey | undefined, batchSize: number) {
        starts.push(after)
        for await (const rows of source.read(after, batchSize)) {
          seen.push(...rows.map((row) => `${row.hotel_id}/${row.id}`))
          yield rows
        }
      },
    }
    const first = context(undefined, 3)
    await expect(copy({ from: logged, to: target, batchSize: 300, context: first })).rejects.toThrow('killed')
    // 300 rows a batch: the third ends with hotel 9, stay 100
    expect(first.saves.at(-1)).toEqual({ after: [9, 100], read: 900 })
    seen.length = 0
    const second = context(first.saves.at(-1))
    const result = await copy({ from: logged, to: target, batchSize: 300, context: second })
    expect(starts).toEqual([undefined, [9, 100]])
    expect(result.read).toBe(HOTELS * STAYS - 900)
    // nothing up to the checkpoint was read again; the first row read is the one after it
    expect(seen[0]).toBe('10/1')
    expect(seen.filter((key) => Number(key.split('/')[0]) <= 9)).toEqual([])
    const { rows } = await pool.query(`select count(*)::int as count from ${schema}.stay_copy`)
    expect(rows[0].count).toBe(HOTELS * STAYS)
    expect((await verifyCopy({ from: source, to: target, checksum: true })).ok).toBe(true)

    // a redone batch (an older checkpoint) leaves one row per (hotel_id, id), holding the source's values
    await pool.query(`update ${schema}.stay_copy set note = 'stale' where hotel_id = 5`)
    await copy({ from: source, to: target, batchSize: 300, context: context({ after: [3, 50], read: 250 }) })
    const after = await pool.query(
      `select count(*)::int as count, count(*) filter (where note = 'stale')::int as stale from ${schema}.stay_copy`,
    )
    expect(after.rows[0]).toEqual({ count: HOTELS * STAYS, stale: 0 })
  })

  it('verifyCopy names a missing and an extra row by their key pairs', async () => {
    const source = pgRows(client, { table: `${schema}.stay`, key: ['hotel_id', 'id'] })
    const target = pgRows(client, { table: `${schema}.stay_copy`, key: ['hotel_id', 'id'] })
    await copy({ from: source, to: target })
    await pool.query(`delete from ${schema}.stay_copy where hotel_id = 7 and id = 42`)
    await pool.query(`insert into ${schema}.stay_copy values (99, 1, 'stray')`)
    const report = await verifyCopy({ from: source, to: target, checksum: true, report: true })
    expect(report.missing).toEqual({ count: 1, examples: [[7, 42]] })
    expect(report.extra).toEqual({ count: 1, examples: [[99, 1]] })
  })

  it('refuses a checkpoint key that is not one value per key column', async () => {
    const source = pgRows(client, { table: `${schema}.stay`, key: ['hotel_id', 'id'] })
    const reading = source.read(7, 10)[Symbol.asyncIterator]().next()
    await expect(reading).rejects.toThrow('a key of (hotel_id, id) must be an array of 2 values, got 7')
  })
})
