import { FluxError } from '@flux/core'
import { describe, expect, it } from 'vitest'
import { bulkInsertSql } from './pg-bulk-insert.ts'
import { schemaMigration } from './pg-schema-migration.ts'

const store = 'catalog'

describe('schema.bulkInsert', () => {
  it('renders multi-row inserts of literals, chunked, and a down that deletes those rows by their key', () => {
    const migration = schemaMigration({ store, schema: 'app' }, (s) => [
      s.bulkInsert(
        'currency',
        [
          { code: 'EUR', name: "l'euro \\ €", meta: { symbol: '€', digits: [2] }, since: new Date(0), live: true },
          { code: 'USD', name: null, rate: 1.08, opened: s.expression('now()') },
          { code: 'JPY', units: 10n ** 20n },
        ],
        { key: ['code'], rowsPerStatement: 2 },
      ),
    ])
    expect(migration.sql).toEqual({
      up: [
        `insert into "app"."currency" ("code", "name", "meta", "since", "live", "rate", "opened") values ('EUR', 'l''euro \\ €', '{"symbol":"€","digits":[2]}', '1970-01-01T00:00:00.000Z', true, default, default), ('USD', null, default, default, default, 1.08, now())`,
        `insert into "app"."currency" ("code", "units") values ('JPY', 100000000000000000000)`,
      ],
      down: [
        `delete from "app"."currency" where "code" in ('EUR', 'USD')`,
        `delete from "app"."currency" where "code" in ('JPY')`,
      ],
    })
    expect(migration.destroysData).toBe('drops 3 rows of currency')
  })

  it('deletes by a composite key with row values, in 1,000 rows per statement by default', () => {
    const rows = Array.from({ length: 2001 }, (_, index) => ({ hotel: index % 7, night: index }))
    const migration = schemaMigration({ store }, (s) => [s.bulkInsert('stay', rows, { key: ['hotel', 'night'] })])
    expect(migration.sql?.up).toHaveLength(3)
    expect(migration.sql?.up[2]).toBe('insert into "stay" ("hotel", "night") values (5, 2000)')
    expect(migration.sql?.down).toHaveLength(3)
    expect(migration.sql?.down?.[2]).toBe('delete from "stay" where ("hotel", "night") in ((5, 2000))')
  })

  it('derives no down without a key, and says so in the SQL the plan prints; none is needed when the migration creates the table', () => {
    const keyless = schemaMigration({ store }, (s) => [s.bulkInsert('currency', [{ code: 'EUR' }])])
    expect(keyless.down).toBeUndefined()
    expect(keyless.sql).toEqual({
      up: [
        `-- bulkInsert currency: no key columns given, so no down is derived for its rows\ninsert into "currency" ("code") values ('EUR')`,
      ],
    })
    const created = schemaMigration({ store }, (s) => [
      s.createTable('currency', { code: { type: 'text', primaryKey: true } }),
      s.bulkInsert('currency', [{ code: 'EUR' }]),
    ])
    expect(created.sql).toEqual({
      up: [`create table "currency" ("code" text primary key)`, `insert into "currency" ("code") values ('EUR')`],
      down: ['drop table "currency"'],
    })
  })

  it('refuses rows it cannot render, naming the row and column', () => {
    const attempt =
      (rows: unknown[], options = {}) =>
      () =>
        schemaMigration({ store }, (s) => [s.bulkInsert('currency', rows as never, options)])
    const refusal = (call: () => unknown) => {
      try {
        call()
      } catch (error) {
        if (FluxError.is(error)) return `${error.code}: ${error.message}`
        throw error
      }
      return 'accepted'
    }
    expect(refusal(attempt([]))).toBe('MIGRATION_INVALID: bulkInsert currency: has no rows')
    expect(refusal(attempt([{ code: 'EUR' }, { rate: Number.NaN }]))).toBe(
      "MIGRATION_INVALID: bulkInsert currency: row 2, column rate: NaN is not a finite number: give it as a string ('NaN') for a float column",
    )
    expect(refusal(attempt([{ code: 'EUR', raw: new Uint8Array(1) }]))).toContain(
      'row 1, column raw: a Uint8Array is not a value',
    )
    expect(refusal(attempt([{ code: 'EUR' }, { name: 'x' }], { key: ['code'] }))).toBe(
      'MIGRATION_INVALID: bulkInsert currency: row 2 has no value for the key column code',
    )
    expect(refusal(attempt([{ code: 'EUR' }], { rowsPerStatement: 0 }))).toBe(
      'MIGRATION_INVALID: bulkInsert currency: rowsPerStatement 0 is not a positive integer',
    )
  })

  it('bulkInsertSql gives the same statements to a migration written by hand', () => {
    expect(bulkInsertSql('currency', [{ code: 'EUR' }], { key: ['code'], schema: 'app' })).toEqual({
      up: [`insert into "app"."currency" ("code") values ('EUR')`],
      down: [`delete from "app"."currency" where "code" in ('EUR')`],
    })
  })
})
