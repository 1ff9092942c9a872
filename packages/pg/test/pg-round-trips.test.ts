import { defineMigration, migrate } from '@flux/core'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type PgClient, type PgLockMode, pgStore } from '../src/index.ts'
import { testProject } from './pg-project.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

/** Every query sent to the server, in order: what `log_statement = all` would log. */
const sent: string[] = []

/** Connections opened by the counting clients. */
let connections = 0

class CountingClient extends pg.Client {
  override connect(...args: unknown[]): any {
    connections += 1
    return (super.connect as (...rest: unknown[]) => unknown)(...args)
  }
  override query(...args: unknown[]): any {
    const [query] = args
    sent.push((typeof query === 'string' ? query : String((query as { text?: unknown })?.text)).replace(/\s+/g, ' '))
    return (super.query as (...rest: unknown[]) => unknown)(...args)
  }
}

/** What was sent since `from`, the fence check (whose lease token changes) as FENCE, `;` between statements as `; `. */
const sentSince = (from: number) =>
  sent.slice(from).map((text) => text.replace(/do \$fence\$.*?end \$fence\$/g, 'FENCE').replace(/ ; /g, '; '))

/** {@link sentSince}, with the values of a ledger write (times, durations) elided. */
const since = (from: number) =>
  sentSince(from).map((text) => text.replace(/(values \('app\/[^']*',).*(on conflict)/, '$1 … $2'))

/** A query flux sends for itself (reading the ledger, the lease), by its start. */
const starting = (prefix: string) => expect.stringMatching(new RegExp(`^${prefix.replace(/[(."]/g, '\\$&')}`))

/** The write of one ledger row. */
const ledgerWrite = (schema: string, id: string) =>
  `insert into "${schema}"."flux_ledger" (id, checksum, status, applied_at, duration_ms, run_id, flux_version, checkpoint) values ('${id}', … on conflict (id) do update set checksum = excluded.checksum, status = excluded.status, applied_at = excluded.applied_at, duration_ms = excluded.duration_ms, run_id = excluded.run_id, flux_version = excluded.flux_version, checkpoint = excluded.checkpoint`

const READ = starting('select id, checksum,')

describeWithServer('round trips', (url) => {
  const schema = randomSchema()
  let pool: pg.Pool
  beforeAll(() => {
    pool = new pg.Pool({ connectionString: url, Client: CountingClient as unknown as typeof pg.Client })
  })
  afterAll(async () => {
    await pool.end()
    await adminPool(url).query(`drop schema if exists "${schema}" cascade`)
  })

  const migration = (name: string, statements: string[]) => ({
    name,
    sql: `-- flux:store catalog\n-- flux:up\n${statements.join(';\n')};`,
  })
  const first = migration('0001_hotel', [`create table "${schema}".hotel (id int)`])
  const second = migration('0002_rooms', [
    `create table "${schema}".room (id int)`,
    `insert into "${schema}".hotel values (1)`,
  ])
  const third = migration('0003_more', [`insert into "${schema}".hotel values (2)`])
  const up = (lock: PgLockMode, migrations: Parameters<typeof testProject>[1]) =>
    migrate(testProject({ catalog: pgStore({ pool, schema, lock }) }, migrations), { direction: 'up' })

  it('open() sends nothing, and reading a ledger is one query, also where it does not exist', async () => {
    await adminPool(url).query(`create schema "${schema}"`)
    const adapter = pgStore({ pool, schema })
    const from = sent.length
    await adapter.open()
    expect(since(from)).toEqual([])
    expect(await adapter.ledger.read()).toEqual([])
    expect(since(from)).toEqual([READ])
    await adapter.close()
    expect((await up('advisory', [first])).error).toBeUndefined()
    const next = sent.length
    await adapter.open()
    expect((await adapter.ledger.read()).length).toBe(1)
    expect(since(next)).toEqual([READ])
  })

  it('a ledger read that finds no table keeps its connection: a run on a new store opens one', async () => {
    const fresh = randomSchema()
    const own = new pg.Pool({ connectionString: url, Client: CountingClient as unknown as typeof pg.Client })
    try {
      const before = connections
      const project = testProject({ catalog: pgStore({ pool: own, schema: fresh, lock: 'table' }) }, [
        migration('0001_hotel', [`create table "${fresh}".hotel (id int)`]),
      ])
      const report = await migrate(project, { direction: 'up' })
      expect(report.error).toBeUndefined()
      // open, read (no table), lease, read again (no table), the step: all on one connection
      expect(connections - before).toBe(1)
    } finally {
      await own.end()
      await adminPool(url).query(`drop schema if exists "${fresh}" cascade`)
    }
  })

  it('applying one SQL migration costs one round trip: BEGIN, its statements, the ledger write and COMMIT', async () => {
    const from = sent.length
    const report = await up('advisory', [first, second])
    expect(report.error).toBeUndefined()
    expect(since(from)).toEqual([
      // read the ledger, plan
      READ,
      // the lease, on its own session
      starting('select pg_try_advisory_lock('),
      starting(`insert into "${schema}"."flux_ledger_lock"`),
      // read again under the lease, plan again
      READ,
      // the step: its two statements between BEGIN and the ledger row, checked against the lease
      // (the fence), with COMMIT, in one query
      `BEGIN; create table "${schema}".room (id int); insert into "${schema}".hotel values (1); FENCE; ${ledgerWrite(schema, 'app/0002_rooms')}; COMMIT`,
      // release the lease
      starting('with freed as'),
    ])
    const [row] = (
      await adminPool(url).query(
        `select duration_ms, applied_at >= now() - interval '1 minute' as recent from "${schema}".flux_ledger where id = 'app/0002_rooms'`,
      )
    ).rows
    expect(row).toEqual({ duration_ms: expect.any(String), recent: true })
  })

  it('a run of SQL migrations goes in scripts of 32: a round trip for each, not for each migration', async () => {
    const many = Array.from({ length: 40 }, (_, offset) =>
      migration(`00${10 + offset}_many`, [`insert into "${schema}".hotel values (${100 + offset})`]),
    )
    const from = sent.length
    try {
      const report = await up('advisory', [first, second, ...many])
      expect(report.error).toBeUndefined()
      expect(report.steps).toHaveLength(40)
      const scripts = sentSince(from).filter((text) => text.startsWith('BEGIN;'))
      expect(scripts.map((text) => text.split('; COMMIT').length - 1)).toEqual([32, 8])
      // each transaction checks the fence before its ledger write
      expect(scripts.map((text) => text.split('FENCE; insert into').length - 1)).toEqual([32, 8])
      expect(scripts[0]).toMatch(
        `BEGIN; insert into "${schema}".hotel values (100); FENCE; insert into "${schema}"."flux_ledger" (id,`,
      )
      expect(scripts[0]).toContain(
        `SET LOCAL synchronous_commit = off; COMMIT; BEGIN; insert into "${schema}".hotel values (101); FENCE; insert into`,
      )
      // every commit skips the wait for the disk but the batch's last, which waits for all (and a
      // script's last when the previous wait was 250 ms ago, which 40 quick inserts do not reach)
      expect(scripts.map((text) => text.split('; SET LOCAL synchronous_commit = off; COMMIT').length - 1)).toEqual([
        32, 7,
      ])
      expect(scripts.map((text) => /[^f]; COMMIT$/.test(text))).toEqual([false, true])
      // nothing failed: no flush of its own
      expect(sentSince(from).some((text) => text.includes('pg_logical_emit_message'))).toBe(false)
    } finally {
      await adminPool(url).query(`delete from "${schema}".hotel where id >= 100`)
      await adminPool(url).query(`delete from "${schema}".flux_ledger where id like 'app/%_many'`)
    }
  })

  it('a script stopped by a failing migration after commits that did not wait: one flush, then they are told applied', async () => {
    const few = Array.from({ length: 3 }, (_, offset) =>
      migration(`00${60 + offset}_few`, [`insert into "${schema}".hotel values (${200 + offset})`]),
    )
    const failing = migration('0063_fails', [`insert into "${schema}".no_such_table values (1)`])
    const from = sent.length
    try {
      const report = await up('advisory', [first, second, ...few, failing])
      expect(report.error?.message).toContain('no_such_table')
      expect(report.steps.filter((step) => step.status === 'applied').map((step) => step.id)).toEqual(
        few.map((one) => `app/${one.name}`),
      )
      const texts = sentSince(from)
      const script = texts.findIndex((text) => text.startsWith('BEGIN;'))
      expect(texts[script]!.split('; SET LOCAL synchronous_commit = off; COMMIT').length - 1).toBe(3)
      // the failed transaction rolled back, then a transaction that writes WAL and waits for it
      expect(texts.slice(script + 1, script + 3)).toEqual(['ROLLBACK', starting('select pg_logical_emit_message')])
      const { rows } = await adminPool(url).query(
        `select count(*)::int as n from "${schema}".hotel where id between 200 and 202`,
      )
      expect(rows[0].n).toBe(3)
    } finally {
      await adminPool(url).query(`delete from "${schema}".hotel where id >= 200`)
      await adminPool(url).query(`delete from "${schema}".flux_ledger where id like 'app/%_few'`)
    }
  })

  it('a script stopped at its first transaction sends no flush: the script before it ended with a commit that waited', async () => {
    const failing = migration('0064_fails', [`insert into "${schema}".no_such_table values (1)`])
    const from = sent.length
    const report = await up('advisory', [first, second, failing])
    expect(report.error?.message).toContain('no_such_table')
    expect(sentSince(from).some((text) => text.includes('pg_logical_emit_message'))).toBe(false)
  })

  it('`up` with nothing to do reads each ledger once, and takes no lease', async () => {
    for (const lock of ['advisory', 'table'] as const) {
      const from = sent.length
      const report = await up(lock, [first, second])
      expect(report.steps).toEqual([])
      expect(since(from)).toEqual([READ])
    }
  })

  it('with lock table, the lease costs one query to take and one to release', async () => {
    const from = sent.length
    const report = await up('table', [first, second, third])
    expect(report.error).toBeUndefined()
    expect(since(from)).toEqual([
      READ,
      starting('with taken as'),
      READ,
      `BEGIN; insert into "${schema}".hotel values (2); FENCE; ${ledgerWrite(schema, 'app/0003_more')}; COMMIT`,
      starting(`update "${schema}"."flux_ledger_lock" set expires_at = '-infinity'`),
    ])
  })

  it('a migration that reads what its queries return costs one round trip per query, BEGIN with the first, the ledger write with COMMIT', async () => {
    const reading = {
      name: '0004_reading',
      definition: defineMigration<PgClient>({
        store: 'catalog',
        async up({ store }) {
          const { rows } = await store.query<{ id: number }>(`select id from "${schema}".hotel order by id`)
          await store.query(`insert into "${schema}".hotel values ($1)`, [rows.length + 1])
        },
      }),
    }
    const from = sent.length
    const report = await up('advisory', [first, second, third, reading])
    expect(report.error).toBeUndefined()
    expect(since(from).slice(4, -1)).toEqual([
      `BEGIN; select id from "${schema}".hotel order by id`,
      `insert into "${schema}".hotel values ($1)`,
      `FENCE; ${ledgerWrite(schema, 'app/0004_reading')}; COMMIT`,
    ])
    expect((await adminPool(url).query(`select id from "${schema}".hotel order by id`)).rows).toEqual([
      { id: 1 },
      { id: 2 },
      { id: 3 },
    ])
  })

  it('a transaction that writes nothing sends nothing; one that fails before its first statement, nothing either', async () => {
    const adapter = pgStore({ pool, schema })
    await adapter.open()
    try {
      const from = sent.length
      expect(await adapter.transaction!(async () => 'done')).toBe('done')
      const failure = new Error('not even started')
      await expect(
        adapter.transaction!(async () => {
          throw failure
        }),
      ).rejects.toBe(failure)
      expect(since(from)).toEqual([])
    } finally {
      await adapter.close()
    }
  })
})
