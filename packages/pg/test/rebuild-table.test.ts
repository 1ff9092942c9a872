import { FluxError } from '@flux/core'
import pg from 'pg'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { type PgClient, pgStore, rebuildMigration, rebuildTable } from '../src/index.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

// rebuildTable on a real server, called as a migration would, with a context of the test's own
// whose checkpoint lives in memory (the CLI test kills a real run and resumes it).

const ROWS = 20_000

/** A migration's context for `rebuildTable`; `saved` holds the last checkpoint, `onSave` sees each one. */
function contextOf(store: PgClient, onSave: (value: unknown) => void = () => {}) {
  const logs: string[] = []
  const state = { saved: undefined as unknown }
  return {
    logs,
    state,
    context: {
      store,
      checkpoint: {
        get value() {
          return state.saved
        },
        async save(value: unknown) {
          state.saved = structuredClone(value)
          onSave(value)
        },
      },
      progress: () => ({ advance() {}, set() {} }),
      signal: new AbortController().signal,
      log: (message: string) => logs.push(message),
    },
  }
}

interface Hotel {
  name: string
  cents: number
  note: string | null
  code: string | null
}

describeWithServer('rebuildTable: move-and-copy of a pg table', (url) => {
  const pool = adminPool(url)
  const store = pool as unknown as PgClient
  const schema = randomSchema()
  beforeAll(async () => {
    await pool.query(`create schema ${schema}`)
  })
  afterAll(async () => {
    await pool.query(`drop schema ${schema} cascade`)
  })

  it('applies the change and loses no insert, update or delete of a writer running through the copy and the swap', async () => {
    const table = `${schema}.hotel`
    await pool.query(`create table ${table} (
      id serial primary key, name text not null, cents integer not null check (cents >= 0), note text,
      code text, stars smallint, legacy text
    )`)
    await pool.query(`create index hotel_name on ${table} (name)`)
    await pool.query(
      `insert into ${table} (name, cents, note, code, stars, legacy) select 'hotel ' || g, g * 10, 'note ' || g, 'c' || g, 3, 'x' from generate_series(1, ${ROWS}) g`,
    )
    // what the table must hold after the rebuild: the writer keeps it in step with what it did
    const expected = new Map<number, Hotel>()
    for (let id = 1; id <= ROWS; id++)
      expected.set(id, { name: `hotel ${id}`, cents: id * 10, note: `note ${id}`, code: `C${id}` })

    // the copy's position, from its checkpoints: the writer aims at the rows of the batch being copied
    let copiedUpTo = 0
    const { context, logs } = contextOf(store, (value) => {
      const copied = (value as { copy?: { after: number } }).copy
      if (copied) copiedUpTo = copied.after
    })
    const writer = new pg.Client({ connectionString: url })
    await writer.connect()
    let stop = false
    const done = { inserts: 0, updates: 0, deletes: 0 }
    const writing = (async () => {
      for (let step = 0; !stop; step++) {
        const near = copiedUpTo + 1 + (step % 600)
        if (step % 5 === 0) {
          const name = `new ${step}`
          const { rows } = await writer.query(
            `insert into ${table} (name, cents, note) values ($1, $2, null) returning id`,
            [name, step],
          )
          expected.set(rows[0].id, { name, cents: step, note: null, code: null })
          done.inserts++
        } else if (step % 5 === 4) {
          const id = near + 300
          const { rowCount } = await writer.query(`delete from ${table} where id = $1`, [id])
          if (rowCount) {
            expected.delete(id)
            done.deletes++
          }
        } else {
          const id = step % 5 === 1 ? near : 1 + ((step * 7919) % ROWS)
          const { rowCount } = await writer.query(
            `update ${table} set name = $2, cents = cents + 1, note = $3 where id = $1`,
            [id, `renamed ${step}`, step % 2 === 0 ? null : `n${step}`],
          )
          const before = expected.get(id)
          if (rowCount && before) {
            expected.set(id, {
              name: `renamed ${step}`,
              cents: before.cents + 1,
              note: step % 2 === 0 ? null : `n${step}`,
              code: before.code,
            })
            done.updates++
          }
        }
      }
    })()
    try {
      const result = await rebuildTable(
        context,
        table,
        (schema) => [
          // the writer's statements work on both tables: it goes on writing after the swap
          schema.alterColumn('hotel', 'cents', { type: 'numeric(12,2)' }),
          schema.alterColumn('hotel', 'code', { type: 'varchar(20)', using: 'upper(code)' }),
          schema.renameColumn('hotel', 'stars', 'rating'),
          schema.dropColumn('hotel', 'legacy'),
          schema.addColumn('hotel', 'rebuilt', { type: 'boolean', notNull: true, default: true }),
        ],
        { batchSize: 500, pauseMs: 5 },
      )
      expect(result.copied?.read).toBeGreaterThanOrEqual(ROWS - done.deletes)
      // writes go on after the swap, into the rebuilt table
      const after = done.inserts + done.updates + done.deletes
      while (done.inserts + done.updates + done.deletes < after + 50)
        await new Promise((resolve) => setTimeout(resolve, 5))
    } finally {
      stop = true
      await writing
      await writer.end()
    }
    expect(done.updates).toBeGreaterThan(100)
    expect(done.deletes).toBeGreaterThan(10)
    expect(done.inserts).toBeGreaterThan(50)
    expect(logs.at(-1)).toMatch(/rows copied in this run, swapped in \d+ ms/)

    // the change is applied: the column types and names of the table now called hotel
    const { rows: columns } = await pool.query(
      `select column_name as name, data_type as type from information_schema.columns where table_schema = $1 and table_name = 'hotel' order by ordinal_position`,
      [schema],
    )
    expect(columns).toEqual([
      { name: 'id', type: 'integer' },
      { name: 'name', type: 'text' },
      { name: 'cents', type: 'numeric' },
      { name: 'note', type: 'text' },
      { name: 'code', type: 'character varying' },
      { name: 'rating', type: 'smallint' },
      { name: 'rebuilt', type: 'boolean' },
    ])
    // every row is what the writer left, converted: count and an md5 over all of them
    const checksum = async (query: string, params: unknown[] = []) =>
      (
        await pool.query(
          `select count(*)::int as count, md5(coalesce(string_agg(line, '|' order by line), '')) as sum from (${query}) t`,
          params,
        )
      ).rows[0]
    const lines = [...expected].map(
      ([id, hotel]) => `${id};${hotel.name};${hotel.cents.toFixed(2)};${hotel.note ?? '-'};${hotel.code ?? '-'}`,
    )
    const wanted = await checksum(`select unnest($1::text[]) as line`, [lines])
    const rebuilt = await checksum(
      `select id || ';' || name || ';' || cents || ';' || coalesce(note, '-') || ';' || coalesce(code, '-') as line from ${table}`,
    )
    expect(rebuilt).toEqual(wanted)
    expect(rebuilt.count).toBe(expected.size)
    expect((await pool.query(`select count(*)::int as n from ${table} where not rebuilt`)).rows[0].n).toBe(0)

    // the old table is kept, without the triggers; its serial sequence goes on in the new table
    const { rows: kept } = await pool.query(
      `select (select count(*)::int from pg_trigger where tgrelid = $1::regclass and not tgisinternal) as triggers`,
      [`${schema}.hotel__flux_old`],
    )
    expect(kept).toEqual([{ triggers: 0 }])
    const { rows: indexes } = await pool.query(
      `select indexname as name from pg_indexes where schemaname = $1 order by 1`,
      [schema],
    )
    expect(indexes.map((row) => row.name)).toEqual([
      'hotel_name',
      'hotel_name__flux_old',
      'hotel_pkey',
      'hotel_pkey__flux_old',
    ])
    await pool.query(`drop table ${schema}.hotel__flux_old`)
    const { rows: inserted } = await pool.query(`insert into ${table} (name, cents) values ('after', 1) returning id`)
    expect(inserted[0].id).toBeGreaterThan(Math.max(...expected.keys()))
    // the check constraint came along, on the converted column
    await expect(pool.query(`insert into ${table} (name, cents) values ('negative', -1)`)).rejects.toThrow(
      /check constraint/,
    )
  })

  it('refuses a table that a foreign key references or a view reads, naming them, and changes nothing', async () => {
    await pool.query(`create table ${schema}.city (id int primary key, name text)`)
    await pool.query(`create table ${schema}.address (id int primary key, city_id int references ${schema}.city)`)
    await pool.query(`create view ${schema}.city_names as select name from ${schema}.city`)
    const { context } = contextOf(store)
    const refused = await rebuildTable(context, `${schema}.city`, (schema) => [
      schema.addColumn('city', 'zip', { type: 'text' }),
    ]).catch((error: unknown) => error)
    expect(FluxError.is(refused)).toBe(true)
    const message = (refused as Error).message
    expect(message).toContain(`rebuildTable ${schema}.city: cannot rebuild it:`)
    expect(message).toContain(`foreign key address_city_id_fkey of table ${schema}.address references it`)
    expect(message).toContain(`view ${schema}.city_names reads it`)
    expect(message).toContain('Nothing was changed')
    const { rows } = await pool.query(
      `select relname from pg_class c join pg_namespace n on n.oid = relnamespace where nspname = $1 and relname like 'city%' order by 1`,
      [schema],
    )
    expect(rows.map((row) => row.relname)).toEqual(['city', 'city_names', 'city_pkey'])
    expect(
      (
        await pool.query(
          `select count(*)::int as n from pg_trigger where tgrelid = $1::regclass and not tgisinternal`,
          [`${schema}.city`],
        )
      ).rows[0].n,
    ).toBe(0)
  })
  it('waits for its lock at most lockTimeoutMs per try, fails clearly after lockRetries with nothing made, and runs again cleanly', async () => {
    const table = `${schema}.room`
    await pool.query(`create table ${table} (id integer generated always as identity primary key, label text)`)
    await pool.query(`insert into ${table} (label) select 'room ' || g from generate_series(1, 1000) g`)
    await pool.query(`grant select on ${table} to public`)
    const blocker = new pg.Client({ connectionString: url })
    await blocker.connect()
    const { context, state } = contextOf(store)
    const change = (schema: Parameters<Parameters<typeof rebuildTable>[2]>[0]) => [
      schema.addColumn('room', 'floor', { type: 'integer', notNull: true, default: 0 }),
    ]
    try {
      // a transaction that wrote to the table and is still open: the triggers cannot be added
      await blocker.query(`begin; update ${table} set label = 'busy' where id = 1`)
      const started = performance.now()
      const failed = await rebuildTable(context, table, change, { lockTimeoutMs: 20, lockRetries: 3 }).catch(
        (error: unknown) => error,
      )
      expect(performance.now() - started).toBeLessThan(5_000)
      expect(FluxError.is(failed)).toBe(true)
      expect((failed as FluxError).message).toBe(
        `rebuildTable ${schema}.room: could not lock the table within 20 ms in 3 tries: a long transaction holds a lock on it`,
      )
      expect((failed as FluxError).hint).toContain('pg_stat_activity')
      expect(await relations('room')).toEqual(['room', 'room_id_seq', 'room_pkey'])
    } finally {
      await blocker.query('rollback')
      await blocker.end()
    }
    // the same migration run again (its checkpoint kept) goes through
    const result = await rebuildTable(context, table, change, { lockTimeoutMs: 20, lockRetries: 3 })
    expect(result.copied?.read).toBe(1000)
    expect((state.saved as { table: number }).table).toBeGreaterThan(0)
    // the identity goes on where the old table's stopped, and the grant came along
    const { rows } = await pool.query(`insert into ${table} (label) values ('new') returning id, floor`)
    expect(rows).toEqual([{ id: 1001, floor: 0 }])
    const { rows: grants } = await pool.query(
      `select count(*)::int as n from information_schema.role_table_grants where table_schema = $1 and table_name = 'room' and grantee = 'PUBLIC' and privilege_type = 'SELECT'`,
      [schema],
    )
    expect(grants).toEqual([{ n: 1 }])

    // run once more after a crash between the swap and the ledger's record: nothing to do
    const again = contextOf(store)
    again.state.saved = state.saved
    expect(await rebuildTable(again.context, table, change)).toEqual({ copied: undefined, swapMs: 0, lockTries: 0 })
    expect(again.logs).toEqual([`rebuildTable ${schema}.room: swapped by an earlier run, nothing left to do`])
    // `flux resolve --auto` of a dirty run: swapped by this migration, or not begun by it
    const definition = rebuildMigration({ store: 'catalog', table, change })
    const verify = (value: unknown) =>
      definition.verify!({ ...contextOf(store).context, checkpoint: { value } } as never)
    expect(await verify(state.saved)).toBe(true)
    expect(await verify(undefined)).toBe(false)
    // another rebuild while the kept table is there: refused, by name
    const next = await rebuildTable(contextOf(store).context, table, () => []).catch((error: unknown) => error)
    expect((next as FluxError).message).toBe(
      `rebuildTable ${schema}.room: room__flux_old exists, kept by an earlier rebuild`,
    )
    expect((next as FluxError).hint).toContain(`drop table "${schema}"."room__flux_old"`)
  })

  it('refuses a leftover new table it did not make, and a change to another table or of the key', async () => {
    await pool.query(`create table ${schema}.guest (id integer primary key, name text)`)
    await pool.query(`create table ${schema}.guest__flux_new (id integer primary key)`)
    const leftover = await rebuildTable(contextOf(store).context, `${schema}.guest`, () => []).catch(
      (error: unknown) => error,
    )
    expect((leftover as FluxError).message).toBe(
      `rebuildTable ${schema}.guest: guest__flux_new exists, but no rebuild of the table is under way (its trigger flux_rebuild_mirror is not on it)`,
    )
    expect(await relations('guest')).toEqual(['guest', 'guest__flux_new', 'guest__flux_new_pkey', 'guest_pkey'])
    await pool.query(`drop table ${schema}.guest__flux_new`)

    const other = await rebuildTable(contextOf(store).context, `${schema}.guest`, (schema) => [
      schema.addColumn('hotel', 'x', { type: 'text' }),
    ]).catch((error: unknown) => error)
    expect((other as FluxError).code).toBe('MIGRATION_INVALID')
    expect((other as FluxError).message).toContain('the change may only alter')
    const key = await rebuildTable(contextOf(store).context, `${schema}.guest`, (schema) => [
      schema.renameColumn('guest', 'id', 'guest_id'),
    ]).catch((error: unknown) => error)
    expect((key as FluxError).message).toContain('the primary key column id')
    expect(await relations('guest')).toEqual(['guest', 'guest_pkey'])
  })

  it('fails the copy on a row the change refuses, with the SQL that gives the rebuild up, and starts over once it is', async () => {
    const table = `${schema}.stay`
    await pool.query(`create table ${schema}.plan (id integer primary key)`)
    await pool.query(`insert into ${schema}.plan values (1)`)
    await pool.query(
      `create table ${table} (id integer primary key, nights integer not null, plan_id integer references ${schema}.plan)`,
    )
    await pool.query(
      `insert into ${table} select g, case when g > 1500 then 1 + g % 20 else 1 + g % 14 end, 1 from generate_series(1, 2000) g`,
    )
    const { context, state } = contextOf(store)
    const change = (schema: Parameters<Parameters<typeof rebuildTable>[2]>[0]) => [
      schema.addCheck('stay_nights', 'stay', 'nights <= 14'),
    ]
    const failed = (await rebuildTable(context, table, change, { batchSize: 100 }).catch(
      (error: unknown) => error,
    )) as FluxError
    expect(failed.message).toBe(
      `rebuildTable ${schema}.stay: the copy into stay__flux_new failed: new row for relation "stay__flux_new" violates check constraint "stay_nights"`,
    )
    // the batches before the refused row were copied and checkpointed
    expect(state.saved).toMatchObject({ copy: { read: 1500 } })
    const abandon = `drop function "${schema}"."stay__flux_mirror"() cascade; drop table "${schema}"."stay__flux_new"`
    expect(failed.hint).toBe(
      `fix the rows and run \`flux up\` again (the copy resumes), or give the rebuild up: ${abandon}`,
    )
    // meanwhile the trigger holds writes to the change too
    await expect(pool.query(`update ${table} set nights = 20 where id = 1`)).rejects.toThrow(/stay_nights/)
    await pool.query(abandon)
    expect(await relations('stay')).toEqual(['stay', 'stay_pkey'])
    await pool.query(`update ${table} set nights = 20 where id = 1`)

    await pool.query(`update ${table} set nights = least(nights, 14)`)
    const result = await rebuildTable(context, table, change, { batchSize: 100 })
    expect(result.copied).toMatchObject({ read: 2000, resumedAfter: undefined })
    expect((state.saved as { table: number }).table).toBeGreaterThan(0)
    // its foreign key to plan came along
    const { rows } = await pool.query(
      `select conname, contype from pg_constraint where conrelid = $1::regclass order by conname`,
      [table],
    )
    expect(rows).toEqual([
      { conname: 'stay_nights', contype: 'c' },
      { conname: 'stay_pkey', contype: 'p' },
      { conname: 'stay_plan_id_fkey', contype: 'f' },
    ])
    await expect(pool.query(`insert into ${table} values (5000, 1, 2)`)).rejects.toThrow(/stay_plan_id_fkey/)
  })

  it('refuses to run in a migration transaction', async () => {
    const adapter = pgStore({ url, schema })
    await adapter.open()
    try {
      const refused = await adapter.transaction!((client) =>
        rebuildTable({ ...contextOf(client).context }, `${schema}.hotel`, () => []),
      ).catch((error: unknown) => error)
      expect((refused as FluxError).code).toBe('MIGRATION_INVALID')
      expect((refused as FluxError).message).toBe(
        `rebuildTable ${schema}.hotel: the migration runs in a transaction, which would hold the copy's locks to its end`,
      )
      expect((refused as FluxError).hint).toContain('transaction: false')
    } finally {
      await adapter.close()
    }
  })

  /** The relations of the test's schema whose name starts with `prefix`. */
  async function relations(prefix: string): Promise<string[]> {
    const { rows } = await pool.query(
      `select relname from pg_class c join pg_namespace n on n.oid = relnamespace where nspname = $1 and relname like $2 order by 1`,
      [schema, `${prefix}%`],
    )
    return rows.map((row) => row.relname)
  }
})
