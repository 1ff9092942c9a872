import { PGlite } from '@electric-sql/pglite'
import { type MigrationDefinition, migrate, resolveAutomatically } from '@flux/core'
import pg from 'pg'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type PgliteInstance, pgStore, type SchemaMigrationOptions, schemaMigration } from '../src/index.ts'
import { type TestMigration, testProject } from './pg-project.ts'
import { adminPool, describeWithServer, randomSchema, type SqlRunner } from './pg-test-helpers.ts'

// Every schema operation applied and reverted through migrate(), on the server and on PGlite:
// the catalog after each step, the catalog after each revert equal to the one before the step,
// and the statements the store was sent equal to the migration's `sql` (what `plan --sql` prints).

/** The migrations of the round trip, qualified with the test's schema. */
function migrations(schema: string): { name: string; definition: MigrationDefinition }[] {
  const options: SchemaMigrationOptions = { store: 'catalog', schema }
  return [
    {
      name: '0001_tables',
      definition: schemaMigration(options, (s) => [
        s.createEnum('hotel_kind', ['inn', 'resort']),
        s.createTable('hotel', {
          id: { type: 'integer', primaryKey: true },
          name: { type: 'text', notNull: true },
          kind: { type: `"${schema}".hotel_kind`, notNull: true, default: 'inn' },
          stars: { type: 'smallint', check: 'stars between 1 and 5' },
          opened_at: { type: 'timestamptz', default: s.expression('now()') },
        }),
        s.createTable(
          'room',
          {
            hotel_id: { type: 'integer', notNull: true, references: 'hotel.id', onDelete: 'cascade' },
            number: { type: 'integer', notNull: true },
            code: { type: 'text', unique: true },
          },
          { primaryKey: ['hotel_id', 'number'] },
        ),
      ]),
    },
    {
      name: '0002_columns',
      definition: schemaMigration(options, (s) => [
        s.addColumn('hotel', 'city', { type: 'text' }),
        s.renameColumn('hotel', 'name', 'title'),
        s.alterColumn('hotel', 'city', { notNull: true, default: 'Paris', was: { default: null } }),
        s.alterColumn('hotel', 'stars', { type: 'integer', using: 'stars::integer', was: { type: 'smallint' } }),
        s.createIndex('hotel_city', 'hotel', ['city', 'title desc'], { unique: true, where: "city <> ''" }),
        s.addUnique('hotel_title', 'hotel', ['title']),
        s.createIndex('hotel_title_lower', 'hotel', [s.expression('lower(title)')]),
        s.addCheck('hotel_city_named', 'hotel', "city <> ''"),
      ]),
    },
    {
      name: '0003_keys',
      definition: schemaMigration(options, (s) => [
        s.renameTable('room', 'hotel_room'),
        s.createTable('review', {
          id: { type: 'integer', notNull: true },
          hotel_id: { type: 'integer' },
          body: { type: 'text' },
        }),
        s.addPrimaryKey('review_pkey', 'review', ['id']),
        s.addForeignKey('review_hotel', 'review', ['hotel_id'], 'hotel', ['id'], { onDelete: 'set null' }),
      ]),
    },
    {
      name: '0004_drops',
      // none of these has a certain inverse: the down is written by hand
      definition: schemaMigration(
        {
          ...options,
          down: (s) => [
            s.sql(`comment on table "${schema}".hotel is null`),
            s.addColumn('review', 'body', { type: 'text' }),
            s.createIndex('hotel_city', 'hotel', ['city', 'title desc'], { unique: true, where: "city <> ''" }),
            s.addCheck('hotel_city_named', 'hotel', "city <> ''"),
          ],
        },
        (s) => [
          s.addEnumValue('hotel_kind', 'hostel', { after: 'inn' }),
          s.dropConstraint('hotel_city_named', 'hotel'),
          s.dropIndex('hotel_city'),
          s.dropColumn('review', 'body'),
          s.sql(`comment on table "${schema}".hotel is 'hotels'`),
        ],
      ),
    },
    {
      name: '0005_concurrently',
      definition: schemaMigration({ ...options, transaction: false }, (s) => [
        s.createIndex('hotel_opened', 'hotel', ['opened_at'], { concurrently: true }),
      ]),
    },
  ]
}

/** The schema as the catalog describes it, one sorted line per table, column, constraint, index, enum and comment. */
async function catalog(db: SqlRunner, schema: string): Promise<string[]> {
  const { rows } = await db.query(
    `select 'column ' || c.table_name || '.' || c.column_name || ' ' || c.data_type
        || case when c.is_nullable = 'NO' then ' not null' else '' end
        || coalesce(' default ' || c.column_default, '') as line
       from information_schema.columns c where c.table_schema = $1
     union all
     select 'constraint ' || r.relname || '.' || k.conname || ' ' || pg_get_constraintdef(k.oid)
       from pg_constraint k join pg_class r on r.oid = k.conrelid join pg_namespace n on n.oid = r.relnamespace
      where n.nspname = $1 and k.contype <> 'n' -- PostgreSQL 18 lists not null as a constraint too
     union all
     select 'index ' || indexdef from pg_indexes where schemaname = $1
     union all
     select 'enum ' || t.typname || ' ' || string_agg(e.enumlabel, ',' order by e.enumsortorder)
       from pg_type t join pg_enum e on e.enumtypid = t.oid join pg_namespace n on n.oid = t.typnamespace
      where n.nspname = $1 group by t.typname
     union all
     select 'comment ' || r.relname || ' ' || d.description
       from pg_description d join pg_class r on r.oid = d.objoid join pg_namespace n on n.oid = r.relnamespace
      where n.nspname = $1 and d.objsubid = 0
     order by 1`,
    [schema],
  )
  return rows
    .map((row) => (row as { line: string }).line.replaceAll(`"${schema}".`, '').replaceAll(`${schema}.`, ''))
    .filter((line) => !/flux_ledger/.test(line))
}

/** The statements, whitespace collapsed, as a store is sent them one after another. */
const joined = (statements: readonly string[]) => statements.map((text) => text.replace(/\s+/g, ' ')).join('; ')

interface Backend {
  schema: string
  db: SqlRunner
  store(): ReturnType<typeof pgStore>
  /** What the store was sent, every query and script in order, whitespace collapsed. */
  sent: string[]
  cleanup(): Promise<void>
}

function roundTrip(name: string, open: () => Promise<Backend>) {
  describe(`schema operations on ${name}`, () => {
    let backend: Backend
    beforeEach(async () => {
      backend = await open()
    })
    afterEach(() => backend.cleanup())

    it('applies each migration as its SQL, and reverts each back to the catalog before it', async () => {
      const { schema, db, sent } = backend
      const list = migrations(schema)
      const project = () => testProject({ catalog: backend.store() }, list as TestMigration[])
      const before: string[][] = []
      for (const migration of list) {
        before.push(await catalog(db, schema))
        const from = sent.length
        const report = await migrate(project(), { direction: 'up', target: `app/${migration.name}` })
        expect(report.error, migration.name).toBeUndefined()
        expect(report.steps.map((step) => step.id)).toEqual([`app/${migration.name}`])
        expect(sent.slice(from).join('; '), migration.name).toContain(joined(migration.definition.sql!.up))
      }
      const applied = await catalog(db, schema)
      expect(applied).toEqual([
        "column hotel.city text not null default 'Paris'::text",
        'column hotel.id integer not null',
        `column hotel.kind USER-DEFINED not null default 'inn'::hotel_kind`,
        'column hotel.opened_at timestamp with time zone default now()',
        'column hotel.stars integer',
        'column hotel.title text not null',
        'column hotel_room.code text',
        'column hotel_room.hotel_id integer not null',
        'column hotel_room.number integer not null',
        'column review.hotel_id integer',
        'column review.id integer not null',
        'comment hotel hotels',
        'constraint hotel.hotel_pkey PRIMARY KEY (id)',
        'constraint hotel.hotel_stars_check CHECK (((stars >= 1) AND (stars <= 5)))',
        'constraint hotel.hotel_title UNIQUE (title)',
        'constraint hotel_room.room_code_key UNIQUE (code)',
        'constraint hotel_room.room_hotel_id_fkey FOREIGN KEY (hotel_id) REFERENCES hotel(id) ON DELETE CASCADE',
        'constraint hotel_room.room_pkey PRIMARY KEY (hotel_id, number)',
        'constraint review.review_hotel FOREIGN KEY (hotel_id) REFERENCES hotel(id) ON DELETE SET NULL',
        'constraint review.review_pkey PRIMARY KEY (id)',
        'enum hotel_kind inn,hostel,resort',
        'index CREATE INDEX hotel_opened ON hotel USING btree (opened_at)',
        'index CREATE INDEX hotel_title_lower ON hotel USING btree (lower(title))',
        'index CREATE UNIQUE INDEX hotel_pkey ON hotel USING btree (id)',
        'index CREATE UNIQUE INDEX hotel_title ON hotel USING btree (title)',
        'index CREATE UNIQUE INDEX review_pkey ON review USING btree (id)',
        'index CREATE UNIQUE INDEX room_code_key ON hotel_room USING btree (code)',
        'index CREATE UNIQUE INDEX room_pkey ON hotel_room USING btree (hotel_id, number)',
      ])
      // what 0002 made and 0004 dropped, seen between them
      expect(before[3]).toContain(
        `index CREATE UNIQUE INDEX hotel_city ON hotel USING btree (city, title DESC) WHERE (city <> ''::text)`,
      )
      expect(before[3]).toContain(`constraint hotel.hotel_city_named CHECK ((city <> ''::text))`)
      expect(before[3]).toContain('column review.body text')

      for (const [index, migration] of [...list.entries()].reverse()) {
        const from = sent.length
        const report = await migrate(project(), { direction: 'down', steps: 1 })
        expect(report.error, migration.name).toBeUndefined()
        expect(report.steps.map((step) => step.id)).toEqual([`app/${migration.name}`])
        expect(sent.slice(from).join('; '), migration.name).toContain(joined(migration.definition.sql!.down!))
        const reverted = await catalog(db, schema)
        // PostgreSQL cannot remove a value from an enum: 0004's stays
        const expected = before[index]!.map((line) =>
          index < 4 ? line.replace('inn,resort', 'inn,hostel,resort') : line,
        )
        expect(reverted, `after reverting ${migration.name}`).toEqual(expected)
      }
      expect(await catalog(db, schema)).toEqual([])
    })

    it('reports a failing operation with its migration and statement, and leaves nothing of its migration', async () => {
      const { schema, db } = backend
      const options: SchemaMigrationOptions = { store: 'catalog', schema }
      const list: TestMigration[] = [
        {
          name: '0001_hotel',
          definition: schemaMigration(options, (s) => [s.createTable('hotel', { id: { type: 'integer' } })]),
        },
        {
          name: '0002_bad',
          definition: schemaMigration(options, (s) => [
            s.addColumn('hotel', 'city', { type: 'text' }),
            s.renameColumn('hotel', 'nmae', 'title'),
          ]),
        },
      ]
      const report = await migrate(testProject({ catalog: backend.store() }, list), { direction: 'up' })
      expect(report.steps.map((step) => [step.id, step.status])).toEqual([
        ['app/0001_hotel', 'applied'],
        ['app/0002_bad', 'failed'],
      ])
      expect(report.error?.message).toBe(
        `migration app/0002_bad failed (up): column "nmae" does not exist, in \`alter table "${schema}"."hotel" rename column "nmae" to "title"\``,
      )
      expect(await catalog(db, schema)).toEqual(['column hotel.id integer'])
    })

    it('verifies a concurrent index after a failed or interrupted run: invalid is for a human, absent runs again, built is applied', async () => {
      const { schema, db } = backend
      await db.query(`create table "${schema}".guest (email text)`)
      await db.query(`insert into "${schema}".guest values ('ana@example.com'), ('ana@example.com')`)
      const id = 'app/0001_guest_email'
      const list: TestMigration[] = [
        {
          name: '0001_guest_email',
          definition: schemaMigration({ store: 'catalog', schema, transaction: false }, (s) => [
            s.createIndex('guest_email', 'guest', ['email'], { unique: true, concurrently: true }),
          ]),
        },
      ]
      const project = () => testProject({ catalog: backend.store() }, list)

      // the duplicate fails the build, which leaves the index behind, invalid: the error says to drop it
      const failed = await migrate(project(), { direction: 'up' })
      expect(failed.error?.message).toContain('could not create unique index "guest_email"')
      expect(failed.error?.message).toContain(
        ` (a failed \`create index concurrently\` leaves the index behind, invalid: \`drop index concurrently "${schema}"."guest_email"\` before running the migration again)`,
      )
      await db.query(`drop index "${schema}".guest_email`)
      const ana = `select ctid from "${schema}".guest where email = 'ana@example.com' limit 1`
      await db.query(`update "${schema}".guest set email = 'bo@example.com' where ctid = (${ana})`)
      expect((await migrate(project(), { direction: 'up' })).error).toBeUndefined()

      // the run died after the build, before it recorded it
      const dirty = () => db.query(`update "${schema}".flux_ledger set status = 'running' where id = $1`, [id])
      await dirty()
      expect(await resolveAutomatically(project())).toEqual([{ id, outcome: 'applied' }])
      // … before the build
      await db.query(`drop index "${schema}".guest_email`)
      await dirty()
      expect(await resolveAutomatically(project())).toEqual([{ id, outcome: 'rolled-back' }])
      // … during the build, which left it invalid: a human decides
      await db.query(`update "${schema}".guest set email = 'ana@example.com'`)
      await expect(
        db.query(`create unique index concurrently guest_email on "${schema}".guest (email)`),
      ).rejects.toThrow('could not create unique index "guest_email"')
      await db.query(
        `insert into "${schema}".flux_ledger (id, checksum, status, applied_at, duration_ms, run_id, flux_version)
         values ($1, 'sha256:0', 'running', now(), 0, 'test', '0.1.0')`,
        [id],
      )
      expect(await resolveAutomatically(project())).toEqual([
        { id, outcome: 'unsure', reason: 'its verify() could not tell' },
      ])
    })
  })
}

describeWithServer('', (url) => {
  roundTrip('the PostgreSQL server', async () => {
    const sent: string[] = []
    class RecordingClient extends pg.Client {
      override query(...args: unknown[]): any {
        const [query] = args
        const text = typeof query === 'string' ? query : String((query as { text?: unknown })?.text)
        sent.push(text.replace(/\s+/g, ' ').replace(/ ; /g, '; '))
        return (super.query as (...rest: unknown[]) => unknown)(...args)
      }
    }
    const pool = new pg.Pool({ connectionString: url, Client: RecordingClient as unknown as typeof pg.Client })
    const schema = randomSchema()
    await adminPool(url).query(`create schema "${schema}"`)
    return {
      schema,
      db: adminPool(url),
      sent,
      store: () => pgStore({ pool, schema }),
      cleanup: async () => {
        await pool.end()
        await adminPool(url).query(`drop schema "${schema}" cascade`)
      },
    }
  })
})

roundTrip('PGlite', async () => {
  const db = await PGlite.create()
  const schema = randomSchema()
  await db.exec(`create schema "${schema}"`)
  const sent: string[] = []
  const record = (text: string) => sent.push(text.replace(/\s+/g, ' ').replace(/ ; /g, '; '))
  type Queries = Omit<PgliteInstance, 'transaction' | 'close'>
  const recording = <T extends Queries>(target: T): Queries => ({
    query: (text, params) => {
      record(text)
      return target.query(text, params)
    },
    exec: (text) => {
      record(text)
      return target.exec(text)
    },
  })
  const instance: PgliteInstance = {
    ...recording(db),
    transaction: (fn) => db.transaction((transaction) => fn(recording(transaction))),
    close: () => db.close(),
  }
  return { schema, db, sent, store: () => pgStore({ pglite: instance, schema }), cleanup: () => db.close() }
})
