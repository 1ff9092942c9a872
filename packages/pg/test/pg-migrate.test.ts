import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { type Adapter, defineMigration, FluxError, type LedgerEntry, migrate } from '@flux/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type PgClient, pgStore } from '../src/index.ts'
import { testProject } from './pg-project.ts'
import { adminPool, describeWithServer, randomSchema, type SqlRunner, schemaContents } from './pg-test-helpers.ts'

interface Target {
  /** The test's schema; it exists, empty. */
  schema: string
  /** A new adapter over the test's database and schema. */
  store(): Adapter<PgClient>
  /** Queries the database directly, not through flux. */
  db: SqlRunner
}

const BAD = (schema: string) => `-- flux:store catalog
-- flux:up
insert into "${schema}".hotel values (2, 'Savoy');
create table "${schema}".room (id int);
insert into "${schema}".room
  select id from "${schema}".no_such_table;
insert into "${schema}".room values (3);
`

function migrationTests(name: string, setup: () => Promise<Target & { cleanup(): Promise<void> }>) {
  describe(name, () => {
    let target: Target & { cleanup(): Promise<void> }
    beforeEach(async () => {
      target = await setup()
    })
    afterEach(async () => {
      await target.cleanup()
    })
    const up = (migrations: Parameters<typeof testProject>[1]) =>
      migrate(testProject({ catalog: target.store() }, migrations), { direction: 'up' })
    const ledgerIds = async () => (await readLedger(target.store())).map((entry) => entry.id)

    it('a migration that fails half-way leaves no trace: neither its earlier statements nor a ledger row', async () => {
      const { schema, db } = target
      const hotels = {
        name: '0001_hotels',
        sql: `-- flux:store catalog\n-- flux:up\ncreate table "${schema}".hotel (id int primary key, name text not null);\ninsert into "${schema}".hotel values (1, 'Ritz');`,
      }
      const report = await up([hotels, { name: '0002_rooms', sql: BAD(schema) }])
      expect(report.steps.map((step) => [step.id, step.status])).toEqual([
        ['app/0001_hotels', 'applied'],
        ['app/0002_rooms', 'failed'],
      ])
      expect(report.error?.code).toBe('MIGRATION_FAILED')
      // the line of the missing table, inside the statement that starts on line 5
      expect(report.error?.message).toContain(
        `migrations/0002_rooms.sql:6: relation "${schema}.no_such_table" does not exist`,
      )
      expect((await db.query(`select id, name from "${schema}".hotel`)).rows).toEqual([{ id: 1, name: 'Ritz' }])
      expect((await db.query(`select to_regclass('"${schema}".room') as room`)).rows).toEqual([{ room: null }])
      expect(await ledgerIds()).toEqual(['app/0001_hotels'])
    })

    const numbered = (schema: string, count: number, statement: (index: number) => string) =>
      Array.from({ length: count }, (_, offset) => ({
        name: `${String(offset + 1).padStart(4, '0')}_item`,
        sql: `-- flux:store catalog\n-- flux:up\n${
          offset === 0 ? `create table "${schema}".item (id int primary key);` : statement(offset + 1)
        }`,
      }))

    it('SQL migrations sent together stop at the one that fails: those before it applied, those after it not run', async () => {
      const { schema, db } = target
      // on a server, 45 migrations go in two scripts; the 40th inserts a duplicate key
      const migrations = numbered(
        schema,
        45,
        (index) => `insert into "${schema}".item values (${index === 40 ? 39 : index});`,
      )
      const report = await up(migrations)
      expect(report.steps.map((step) => step.status)).toEqual([
        ...Array(39).fill('applied'),
        'failed',
        ...Array(5).fill('skipped'),
      ])
      expect(report.error?.message).toContain(
        'migration app/0040_item failed (up): migrations/0040_item.sql:3: duplicate key value violates unique constraint',
      )
      expect(Number(((await db.query(`select count(*) as n from "${schema}".item`)).rows[0] as { n: string }).n)).toBe(
        38,
      )
      expect(await ledgerIds()).toEqual(migrations.slice(0, 39).map((migration) => `app/${migration.name}`))

      migrations[39]!.sql = `-- flux:store catalog\n-- flux:up\ninsert into "${schema}".item values (40);`
      const again = await up(migrations)
      expect(again.error).toBeUndefined()
      expect(again.steps.map((step) => step.id)).toEqual(
        migrations.slice(39).map((migration) => `app/${migration.name}`),
      )
      expect(Number(((await db.query(`select count(*) as n from "${schema}".item`)).rows[0] as { n: string }).n)).toBe(
        44,
      )
    })

    it('an interrupted run of SQL migrations stops before the next script: what ran is recorded, the rest is not run', async () => {
      const { schema, db } = target
      // on a server, the 40th sleeps in the second script of 32; the run is stopped while it sleeps
      // (commits are told once durable, every 250 ms at most: a step-end may come scripts later)
      const migrations = numbered(schema, 200, (index) =>
        index === 40
          ? `select pg_sleep(0.4);\ninsert into "${schema}".item values (40);`
          : `insert into "${schema}".item values (${index});`,
      )
      const controller = new AbortController()
      const report = await migrate(testProject({ catalog: target.store() }, migrations), {
        direction: 'up',
        signal: controller.signal,
        onEvent: (event) => {
          // PGlite runs in this thread: there the first step-end comes before any timer
          if (event.type === 'plan-ready') setTimeout(() => controller.abort(), 150)
          if (event.type === 'step-end') controller.abort()
        },
      })
      expect(report.error?.code).toBe('INTERRUPTED')
      const applied = report.steps.filter((step) => step.status === 'applied').length
      expect(report.steps.map((step) => step.status)).toEqual([
        ...Array(applied).fill('applied'),
        ...Array(200 - applied).fill('skipped'),
      ])
      // at most the script in flight when the signal came, never one built after it
      expect(applied).toBeLessThanOrEqual(64)
      expect(await ledgerIds()).toEqual(migrations.slice(0, applied).map((migration) => `app/${migration.name}`))
      const rows = ((await db.query(`select count(*) as n from "${schema}".item`)).rows[0] as { n: string }).n
      expect(Number(rows)).toBe(applied - 1)
    })

    it('a syntax error in one of many SQL migrations leaves those before it applied, as if each went alone', async () => {
      const { schema, db } = target
      // PostgreSQL parses a whole script before it runs any of it
      const migrations = numbered(schema, 40, (index) =>
        index === 35
          ? `insert into "${schema}".item\nvalues (35) returning nothing at all;`
          : `insert into "${schema}".item values (${index});`,
      )
      const report = await up(migrations)
      expect(report.steps.filter((step) => step.status === 'applied')).toHaveLength(34)
      expect(report.error?.message).toBe(
        'migration app/0035_item failed (up): migrations/0035_item.sql:4: syntax error at or near "all"',
      )
      expect(Number(((await db.query(`select count(*) as n from "${schema}".item`)).rows[0] as { n: string }).n)).toBe(
        33,
      )
      expect(await ledgerIds()).toHaveLength(34)
    })

    it('an SQL error names the file and the line where PostgreSQL found it, also in the first statement', async () => {
      // PostgreSQL counts characters: each 😀 is one there, two in a JavaScript string
      const report = await up([
        {
          name: '0001_first',
          sql: "-- flux:store catalog\n-- flux:up\nselect '😀😀😀' as x,\nnope\nfrom (select 1) as t;",
        },
      ])
      expect(report.error?.message).toContain('migrations/0001_first.sql:4: column "nope" does not exist')
    })

    it('names the failing statement of an SQL file when PostgreSQL gives no position, and leaves nothing of it', async () => {
      const { schema, db } = target
      const sql = `-- flux:store catalog
-- flux:up
create table "${schema}".hotel (id int primary key);
insert into "${schema}".hotel values (1);
insert into "${schema}".hotel
  values (1);
insert into "${schema}".hotel values (2);
`
      const report = await up([{ name: '0001_duplicate', sql }])
      expect(report.error?.code).toBe('MIGRATION_FAILED')
      expect(report.error?.message).toBe(
        'migration app/0001_duplicate failed (up): migrations/0001_duplicate.sql:5: duplicate key value violates unique constraint "hotel_pkey"',
      )
      expect(report.steps.map((step) => step.status)).toEqual(['failed'])
      expect((await db.query(`select to_regclass('"${schema}".hotel') as hotel`)).rows).toEqual([{ hotel: null }])
      expect(await ledgerIds()).toEqual([])
    })

    it('names the line of a syntax error in a later statement, though nothing of the file ran', async () => {
      const { schema, db } = target
      const sql = `-- flux:store catalog
-- flux:up
create table "${schema}".hotel (id int primary key);
insert into "${schema}".hotel
  values (1)
  returning nothing at all;
`
      const report = await up([
        { name: '0001_fine', sql: `-- flux:store catalog\n-- flux:up\ncreate table "${schema}".city (id int);` },
        { name: '0002_syntax', sql },
      ])
      expect(report.steps.map((step) => step.status)).toEqual(['applied', 'failed'])
      expect(report.error?.message).toBe(
        'migration app/0002_syntax failed (up): migrations/0002_syntax.sql:6: syntax error at or near "all"',
      )
      expect(report.error?.hint).toBe(
        'nothing of it was committed; fix migrations/0002_syntax.sql and run `flux up` again',
      )
      expect((await db.query(`select to_regclass('"${schema}".hotel') as hotel`)).rows).toEqual([{ hotel: null }])
      expect(await ledgerIds()).toEqual(['app/0001_fine'])
    })

    it('records how long an SQL migration took and when it ended', async () => {
      const { schema } = target
      const before = Date.now()
      const sql = `-- flux:store catalog\n-- flux:up\ncreate table "${schema}".nap (id int);\nselect pg_sleep(0.2);`
      expect((await up([{ name: '0001_nap', sql }])).error).toBeUndefined()
      const [entry] = await readLedger(target.store())
      expect(entry?.durationMs).toBeGreaterThanOrEqual(200)
      expect(Date.parse(entry!.appliedAt)).toBeGreaterThanOrEqual(before + 200)
    })

    it('runs an SQL file whose statements hold semicolons in bodies, strings and comments', async () => {
      const { schema, db } = target
      const sql = `-- flux:store catalog
-- flux:up
/* a function; /* nested; */ still a comment; */
create function "${schema}".greet(name text) returns text language plpgsql as $fn$
begin
  -- a comment; inside the body
  return 'hello; ' || name || E' \\'--\\'';
end
$fn$;
create function "${schema}".twice(x int) returns int language sql
begin atomic
  select case when x is null then 0 else x * 2 end;
end;
create table "${schema}".said (text text);
insert into "${schema}".said values ("${schema}".greet('a;b')), ('it''s -- not a comment; '), ("${schema}".twice(21)::text)
`
      expect((await up([{ name: '0001_functions', sql }])).error).toBeUndefined()
      expect(
        (await db.query(`select text from "${schema}".said`)).rows.map((row) => (row as { text: string }).text),
      ).toEqual(["hello; a;b '--'", "it's -- not a comment; ", '42'])
    })

    it('on an empty database, a failing first migration leaves not even the ledger table', async () => {
      const report = await up([{ name: '0001_rooms', sql: BAD(target.schema) }])
      expect(report.error?.code).toBe('MIGRATION_FAILED')
      const tables = await schemaContents(target.db, target.schema)
      expect(tables.filter((table) => !table.endsWith('_lock'))).toEqual([`schema ${target.schema}`])
      expect(await ledgerIds()).toEqual([])
    })

    it('down runs the down section and removes the ledger row', async () => {
      const { schema, db } = target
      const migration = {
        name: '0001_hotels',
        sql: `-- flux:store catalog\n-- flux:up\ncreate table "${schema}".hotel (id int);\n-- flux:down\ndrop table "${schema}".hotel;`,
      }
      expect((await up([migration])).error).toBeUndefined()
      expect(await ledgerIds()).toEqual(['app/0001_hotels'])
      const report = await migrate(testProject({ catalog: target.store() }, [migration]), {
        direction: 'down',
        target: 'base',
      })
      expect(report.error).toBeUndefined()
      expect(await ledgerIds()).toEqual([])
      expect((await db.query(`select to_regclass('"${schema}".hotel') as hotel`)).rows).toEqual([{ hotel: null }])
    })

    it('ctx.store: sql`` and query() bind values as parameters, never as SQL', async () => {
      const { schema, db } = target
      const hostile = `x'); drop table "${schema}".note; --`
      const definition = defineMigration<PgClient>({
        store: 'catalog',
        async up({ store }) {
          await store.query(`create table "${schema}".note (body text, n int)`)
          expect((await store.query(`insert into "${schema}".note values ($1, $2)`, [hostile, 1])).rowCount).toBe(1)
          // a template can only take values: the schema comes from the search path
          await store.query(`set local search_path to "${schema}"`)
          const { rows } = await store.sql<{ n: number }>`insert into note values (${hostile}, ${2}) returning n`
          expect(rows).toEqual([{ n: 2 }])
        },
      })
      expect((await up([{ name: '0001_notes', definition }])).error).toBeUndefined()
      expect((await db.query(`select body, n from "${schema}".note order by n`)).rows).toEqual([
        { body: hostile, n: 1 },
        { body: hostile, n: 2 },
      ])
      const adapter = target.store()
      await adapter.open()
      try {
        const { rows } = await adapter.client().sql`select ${'1; select 2'} as value, ${null}::int as nothing`
        expect(rows).toEqual([{ value: '1; select 2', nothing: null }])
      } finally {
        await adapter.close()
      }
    })
  })
}

async function readLedger(adapter: Adapter) {
  await adapter.open()
  try {
    return await adapter.ledger.read()
  } finally {
    await adapter.close()
  }
}

describeWithServer('migrations on the PostgreSQL server', (url) => {
  migrationTests('server', async () => {
    const schema = randomSchema()
    const db = adminPool(url)
    await db.query(`create schema "${schema}"`)
    return {
      schema,
      db,
      store: () => pgStore({ url, schema }),
      cleanup: async () => {
        await db.query(`drop schema "${schema}" cascade`)
      },
    }
  })
})

migrationTests('PGlite', async () => {
  const db = await PGlite.create()
  const schema = randomSchema()
  await db.exec(`create schema "${schema}"`)
  return { schema, db, store: () => pgStore({ pglite: db, schema }), cleanup: () => db.close() }
})

describeWithServer('statements that cannot run in a transaction', (url) => {
  let schema: string
  beforeEach(async () => {
    schema = randomSchema()
    await adminPool(url).query(`create schema "${schema}"; create table "${schema}".hotel (id int, name text)`)
  })
  afterEach(async () => {
    await adminPool(url).query(`drop schema "${schema}" cascade`)
  })
  const index = (header: string) => ({
    name: '0001_index',
    sql: `-- flux:store catalog\n${header}-- flux:up\ncreate index concurrently hotel_name on "${schema}".hotel (name);`,
  })

  it('run with `-- flux:transaction off`, each on its own, recorded as applied', async () => {
    const report = await migrate(
      testProject({ catalog: pgStore({ url, schema }) }, [index('-- flux:transaction off\n')]),
      {
        direction: 'up',
      },
    )
    expect(report.error).toBeUndefined()
    const { rows } = await adminPool(url).query(
      `select indexname from pg_indexes where schemaname = $1 and tablename = 'hotel'`,
      [schema],
    )
    expect(rows).toEqual([{ indexname: 'hotel_name' }])
    expect((await readLedger(pgStore({ url, schema }))).map((entry) => [entry.id, entry.status])).toEqual([
      ['app/0001_index', 'applied'],
    ])
  })

  it('fail in a transaction with a message that says to turn it off', async () => {
    const report = await migrate(testProject({ catalog: pgStore({ url, schema }) }, [index('')]), { direction: 'up' })
    expect(report.error?.message).toContain(
      'migrations/0001_index.sql:3: CREATE INDEX CONCURRENTLY cannot run inside a transaction block (put `-- flux:transaction off` in the header of the file)',
    )
  })
})

describe('PGlite in a data directory', () => {
  let directory: string
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'flux-pglite-'))
  })
  afterEach(async () => {
    await rm(directory, { recursive: true, force: true })
  })

  it('keeps the ledger and the data across adapters, and closes its database', async () => {
    const dataDir = join(directory, 'var', 'pg')
    const migration = { name: '0001_hotels', sql: '-- flux:store catalog\n-- flux:up\ncreate table hotel (id int);' }
    const report = await migrate(testProject({ catalog: pgStore({ pglite: dataDir }) }, [migration]), {
      direction: 'up',
    })
    expect(report.error).toBeUndefined()
    // migrate() closed the store: another adapter can open the directory
    const adapter = pgStore({ pglite: dataDir })
    expect(adapter.describe()).toBe(`pg pglite ${dataDir}`)
    await adapter.open()
    try {
      expect((await adapter.ledger.read()).map((entry) => entry.id)).toEqual(['app/0001_hotels'])
      expect((await adapter.client().query(`select to_regclass('hotel') is not null as found`)).rows).toEqual([
        { found: true },
      ])
    } finally {
      await adapter.close()
    }
  })

  it('is opened by one process at a time: a second open() fails until the first closes', async () => {
    const dataDir = join(directory, 'pg')
    const first = pgStore({ pglite: dataDir })
    await first.open()
    const second = pgStore({ pglite: dataDir })
    try {
      const error = await second.open().then(
        () => undefined,
        (thrown: unknown) => thrown,
      )
      expect(FluxError.is(error) && error.code).toBe('STORE_UNAVAILABLE')
      expect((error as Error).message).toContain(
        `cannot open pg pglite ${dataDir}: it is open in process ${process.pid}`,
      )
    } finally {
      await first.close()
    }
    await second.open()
    await second.close()
  })

  it('replaces the claim of a process that died with the directory open', async () => {
    const dataDir = join(directory, 'pg')
    const child = spawn(process.execPath, ['-e', '0'])
    await once(child, 'exit')
    const claim = { host: hostname(), pid: child.pid, runId: '', since: '2026-01-01T00:00:00.000Z' }
    await writeFile(join(directory, '.pg.flux-open'), JSON.stringify(claim))
    const adapter = pgStore({ pglite: dataDir })
    await adapter.open()
    await adapter.close()
    await expect(readdir(directory)).resolves.toEqual(['pg'])
  })
})

describeWithServer('the ledger write prepared on flux’s own connections', (url) => {
  let schema: string
  beforeEach(async () => {
    schema = randomSchema()
    await adminPool(url).query(`create schema "${schema}"`)
  })
  afterEach(async () => {
    await adminPool(url).query(`drop schema "${schema}" cascade`)
  })
  const sqlMigration = (name: string, header: string, body: string) => ({
    name,
    sql: `-- flux:store catalog\n${header}-- flux:up\n${body}`,
  })
  const ids = async () => (await readLedger(pgStore({ url, schema }))).map((entry) => entry.id)
  const ledgerEntry = (id: string): LedgerEntry => ({
    id,
    checksum: `sha256:${'0123456789abcdef'.repeat(4)}`,
    status: 'applied',
    appliedAt: '2026-01-02T03:04:05.678Z',
    durationMs: 1234,
    runId: 'r-prepared',
    fluxVersion: '0.1.0',
    checkpoint: { step: 2 },
  })

  it('prepares the write once per connection, and runs it by name after', async () => {
    let seen: unknown[] = []
    const inspect = {
      name: '0003_inspect',
      definition: defineMigration<PgClient>({
        store: 'catalog',
        async up({ store }) {
          seen = (await store.query(`select name from pg_prepared_statements where name like 'flux_ledger_write_%'`))
            .rows
        },
      }),
    }
    const report = await migrate(
      testProject({ catalog: pgStore({ url, schema }) }, [
        sqlMigration('0001_first', '', `create table "${schema}".a (id int);`),
        sqlMigration('0002_second', '', `insert into "${schema}".a values (1);`),
        inspect,
      ]),
      { direction: 'up' },
    )
    expect(report.error).toBeUndefined()
    // the steps ran on one connection, where the first prepared the write
    expect(seen).toEqual([{ name: expect.stringMatching(/^flux_ledger_write_[0-9a-z]+_0$/) }])
    expect(await ids()).toEqual(['app/0001_first', 'app/0002_second', 'app/0003_inspect'])
  })

  it('survives migrations that drop prepared statements, in a transaction or outside one', async () => {
    const report = await migrate(
      testProject({ catalog: pgStore({ url, schema }) }, [
        sqlMigration('0001_first', '', `create table "${schema}".a (id int);`),
        sqlMigration('0002_deallocate', '', `insert into "${schema}".a values (1);\ndeallocate all;`),
        sqlMigration('0003_after', '', `insert into "${schema}".a values (2);`),
        sqlMigration('0004_discard', '-- flux:transaction off\n', 'discard all;'),
        sqlMigration('0005_last', '', `insert into "${schema}".a values (3);`),
      ]),
      { direction: 'up' },
    )
    expect(report.error).toBeUndefined()
    expect(await ids()).toEqual([
      'app/0001_first',
      'app/0002_deallocate',
      'app/0003_after',
      'app/0004_discard',
      'app/0005_last',
    ])
  })

  it('writes again after a transaction that created the ledger table, prepared its write, and rolled back', async () => {
    const adapter = pgStore({ url, schema })
    await adapter.open()
    try {
      const failed = await adapter.transaction!(async (client, ledger) => {
        await ledger.record(ledgerEntry('app/rolled-back'))
        await client.query('select 1 / 0')
      }).then(
        () => undefined,
        (error: unknown) => error,
      )
      expect((failed as Error).message).toBe('division by zero')
      expect(await schemaContents(adminPool(url), schema)).toEqual([`schema ${schema}`])
      const entry = ledgerEntry('app/written')
      await adapter.transaction!(async (_client, ledger) => {
        await ledger.record(entry)
      })
      expect(await adapter.ledger.read()).toEqual([entry])
    } finally {
      await adapter.close()
    }
  })
})
