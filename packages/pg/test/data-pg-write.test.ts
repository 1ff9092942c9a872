import { copy } from '@flux/core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type PgClient, pgRows } from '../src/index.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

/** Values that an array parameter must carry exactly: quotes, braces, commas, backslashes, NULL as text, empty strings. */
const TRICKY = ['plain', 'a "quoted", {braced} \\ text', 'NULL', '', 'line\nbreak', 'ünïcødé 🏨']

describeWithServer('pgRows as a target: one unnest() statement per batch', (url) => {
  const pool = adminPool(url)
  const client = pool as unknown as PgClient
  const schema = randomSchema()
  beforeAll(async () => {
    await pool.query(`create schema ${schema}`)
    await pool.query(`create type ${schema}.mood as enum ('calm', 'busy')`)
    await pool.query(`create table ${schema}.stay (
      id int primary key, note text, short varchar(20), price numeric(10, 2), at timestamptz, day date,
      ok boolean, extra jsonb, photo bytea, mood ${schema}.mood, big bigint
    )`)
    await pool.query(`create table ${schema}.tagged (id int primary key, tags text[], scores int[])`)
  })
  afterAll(async () => {
    await pool.query(`drop schema ${schema} cascade`)
  })

  it('writes every type as the multi-row insert would, nulls included, and a batch written twice leaves one row per key', async () => {
    const rows = Array.from({ length: 1_500 }, (_, index) => ({
      id: index + 1,
      note: index < TRICKY.length ? TRICKY[index]! : index % 10 === 0 ? null : `note ${index}`,
      short: `s${index}`,
      price: `${index}.25`,
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, index)),
      day: '2026-03-01',
      ok: index % 2 === 0,
      extra: index % 3 === 0 ? [1, 'two', { three: 3 }] : { hotel: index, tags: ['a', 'b'] },
      photo: Buffer.from([index % 256, 0, 255]),
      mood: index % 2 === 0 ? 'calm' : 'busy',
      big: '9007199254740993',
    }))
    const target = pgRows(client, { table: `${schema}.stay` })
    await target.write(rows)
    await target.write(rows.map((row) => ({ ...row, short: `again ${row.id}` })))
    const { rows: stored } = await pool.query(`select * from ${schema}.stay order by id`)
    expect(stored).toHaveLength(1_500)
    expect(stored.slice(0, TRICKY.length).map((row) => row.note)).toEqual(TRICKY)
    expect(stored[10].note).toBeNull()
    expect(stored[7]).toEqual({
      id: 8,
      note: 'note 7',
      short: 'again 8',
      price: '7.25',
      at: new Date(Date.UTC(2026, 0, 1, 0, 0, 7)),
      day: stored[7].day,
      ok: false,
      extra: { hotel: 7, tags: ['a', 'b'] },
      photo: Buffer.from([7, 0, 255]),
      mood: 'busy',
      big: '9007199254740993',
    })
    // a JSON array stays a JSON array, not a Postgres array
    expect(stored[9].extra).toEqual([1, 'two', { three: 3 }])
  })

  it('falls back to a multi-row insert for a table whose columns are arrays, and copies between two tables', async () => {
    const tagged = pgRows(client, { table: `${schema}.tagged` })
    await tagged.write([
      { id: 1, tags: ['a', 'b,c'], scores: [1, 2] },
      { id: 2, tags: [], scores: null },
    ])
    await tagged.write([{ id: 1, tags: ['x'], scores: [3] }])
    const { rows } = await pool.query(`select * from ${schema}.tagged order by id`)
    expect(rows).toEqual([
      { id: 1, tags: ['x'], scores: [3] },
      { id: 2, tags: [], scores: null },
    ])

    await pool.query(`create table ${schema}.stay_copy (like ${schema}.stay including all)`)
    const result = await copy({
      from: pgRows(client, { table: `${schema}.stay` }),
      to: pgRows(client, { table: `${schema}.stay_copy` }),
      batchSize: 400,
    })
    expect(result).toMatchObject({ read: 1_500, written: 1_500, batches: 4 })
    const { rows: differ } = await pool.query(
      `select count(*)::int as count from (select * from ${schema}.stay except select * from ${schema}.stay_copy) as missing`,
    )
    expect(differ[0].count).toBe(0)
  })

  it('names the table when it is not there', async () => {
    const missing = pgRows(client, { table: `${schema}.nowhere` })
    await expect(missing.write([{ id: 1 }])).rejects.toThrow(/relation ".*nowhere" does not exist/)
  })
})
