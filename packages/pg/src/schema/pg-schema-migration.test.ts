import { FluxError } from '@flux/core'
import { describe, expect, it } from 'vitest'
import { schemaMigration, schemaOperationsOf } from './pg-schema-migration.ts'
import { type SchemaOperations, schemaOperations } from './pg-schema-ops.ts'

const store = 'catalog'

describe('schemaMigration', () => {
  it('compiles each operation to the SQL it runs, offline', () => {
    const migration = schemaMigration({ store }, (s) => [
      s.createTable(
        'hotel',
        {
          id: { type: 'integer', primaryKey: true },
          name: { type: 'varchar(80)', notNull: true, unique: true, default: "it's" },
          stars: { type: 'smallint', check: 'stars between 1 and 5', default: 3 },
          opened_at: { type: 'timestamptz', default: s.expression('now()') },
        },
        {},
      ),
      s.createTable('room', { hotel_id: { type: 'integer', references: 'hotel.id', onDelete: 'cascade' } }),
      s.createTable('stay', { a: { type: 'int' }, b: { type: 'int' } }, { primaryKey: ['a', 'b'] }),
      s.dropTable('old', { cascade: true }),
      s.renameTable('room', 'hotel_room'),
      s.addColumn('hotel', 'city', { type: 'text', notNull: true, default: 'Paris' }),
      s.dropColumn('hotel', 'city'),
      s.renameColumn('hotel', 'name', 'title'),
      s.alterColumn('hotel', 'stars', { type: 'integer', using: 'stars::integer', notNull: true, default: null }),
      s.createIndex('hotel_title', 'hotel', ['title', 'stars desc'], { unique: true, where: 'stars > 1' }),
      s.dropIndex('hotel_title'),
      s.createIndex('hotel_name_lower', 'hotel', [s.expression('lower(title)'), 'stars']),
      s.addForeignKey('stay_hotel', 'stay', ['a'], 'hotel', ['id'], { onDelete: 'set null', onUpdate: 'cascade' }),
      s.addUnique('stay_b', 'stay', ['b']),
      s.addCheck('stay_a', 'stay', 'a > 0'),
      s.addPrimaryKey('hotel_room_pkey', 'hotel_room', ['hotel_id']),
      s.dropConstraint('stay_a', 'stay'),
      s.createEnum('hotel_kind', ['inn', "b'n'b"]),
      s.addEnumValue('hotel_kind', 'resort', { before: 'inn' }),
      s.dropEnum('hotel_kind'),
      s.sql('vacuum hotel;'),
    ])
    expect(migration.sql?.up).toEqual([
      `create table "hotel" ("id" integer primary key, "name" varchar(80) default 'it''s' not null unique, "stars" smallint default 3 check (stars between 1 and 5), "opened_at" timestamptz default now())`,
      `create table "room" ("hotel_id" integer references "hotel" ("id") on delete cascade)`,
      `create table "stay" ("a" int, "b" int, constraint "stay_pkey" primary key ("a", "b"))`,
      `drop table "old" cascade`,
      `alter table "room" rename to "hotel_room"`,
      `alter table "hotel" add column "city" text default 'Paris' not null`,
      `alter table "hotel" drop column "city"`,
      `alter table "hotel" rename column "name" to "title"`,
      `alter table "hotel" alter column "stars" type integer using stars::integer, alter column "stars" set not null, alter column "stars" drop default`,
      `create unique index "hotel_title" on "hotel" ("title", "stars" desc) where stars > 1`,
      `drop index "hotel_title"`,
      `create index "hotel_name_lower" on "hotel" (lower(title), "stars")`,
      `alter table "stay" add constraint "stay_hotel" foreign key ("a") references "hotel" ("id") on delete set null on update cascade`,
      `alter table "stay" add constraint "stay_b" unique ("b")`,
      `alter table "stay" add constraint "stay_a" check (a > 0)`,
      `alter table "hotel_room" add constraint "hotel_room_pkey" primary key ("hotel_id")`,
      `alter table "stay" drop constraint "stay_a"`,
      `create type "hotel_kind" as enum ('inn', 'b''n''b')`,
      `alter type "hotel_kind" add value 'resort' before 'inn'`,
      `drop type "hotel_kind"`,
      'vacuum hotel',
    ])
  })

  it('qualifies names with its schema, also in references', () => {
    const migration = schemaMigration({ store, schema: 'travel' }, (s) => [
      s.addForeignKey('room_hotel', 'room', ['hotel_id'], 'hotel', ['id']),
      s.createIndex('room_hotel', 'room', ['hotel_id']),
    ])
    expect(migration.sql).toEqual({
      up: [
        'alter table "travel"."room" add constraint "room_hotel" foreign key ("hotel_id") references "travel"."hotel" ("id")',
        'create index "room_hotel" on "travel"."room" ("hotel_id")',
      ],
      down: ['drop index "travel"."room_hotel"', 'alter table "travel"."room" drop constraint "room_hotel"'],
    })
  })

  it('derives down in reverse order where every inverse is certain, and says a dropped table destroys data', async () => {
    const migration = schemaMigration({ store, parents: ['0001_init'], after: ['@travel/images/0001_init'] }, (s) => [
      s.createEnum('kind', ['inn']),
      s.createTable('hotel', { id: { type: 'integer' } }),
      s.addColumn('room', 'floor', { type: 'integer' }),
      s.renameTable('guest', 'visitor'),
      s.renameColumn('visitor', 'name', 'full_name'),
      s.alterColumn('visitor', 'email', { notNull: true }),
      s.alterColumn('visitor', 'age', {
        type: 'bigint',
        default: 0,
        was: { type: 'integer', using: 'age::integer', default: null },
      }),
      s.addCheck('room_floor', 'room', 'floor >= 0'),
      s.alterColumn('visitor', 'phone', { notNull: true, was: { notNull: true } }),
    ])
    expect(migration.parents).toEqual(['0001_init'])
    expect(migration.after).toEqual(['@travel/images/0001_init'])
    expect(migration.transaction).toBeUndefined()
    expect(migration.sql?.down).toEqual([
      // it was not null already: the down leaves it so
      'alter table "visitor" alter column "phone" set not null',
      'alter table "room" drop constraint "room_floor"',
      'alter table "visitor" alter column "age" type integer using age::integer, alter column "age" drop default',
      'alter table "visitor" alter column "email" drop not null',
      'alter table "visitor" rename column "full_name" to "name"',
      'alter table "visitor" rename to "guest"',
      'alter table "room" drop column "floor"',
      'drop table "hotel"',
      'drop type "kind"',
    ])
    expect(migration.destroysData).toBe('drops column room.floor, table hotel')
    expect(typeof migration.down).toBe('function')
  })

  it.each([
    ['dropTable', (s: Ops) => s.dropTable('hotel')],
    ['dropColumn', (s: Ops) => s.dropColumn('hotel', 'name')],
    ['dropIndex', (s: Ops) => s.dropIndex('hotel_name')],
    ['dropConstraint', (s: Ops) => s.dropConstraint('hotel_name', 'hotel')],
    ['dropEnum', (s: Ops) => s.dropEnum('kind')],
    ['addEnumValue', (s: Ops) => s.addEnumValue('kind', 'resort')],
    ['sql', (s: Ops) => s.sql('update hotel set stars = 3')],
    ['alterColumn (a type without the one before)', (s: Ops) => s.alterColumn('hotel', 'stars', { type: 'bigint' })],
    ['alterColumn (a default without the one before)', (s: Ops) => s.alterColumn('hotel', 'stars', { default: 3 })],
  ])('has no down with %s, unless one is written', (_, operation) => {
    const migration = schemaMigration({ store }, (s) => [
      s.createIndex('hotel_stars', 'hotel', ['stars']),
      operation(s),
    ])
    expect(migration.down).toBeUndefined()
    expect(migration.sql?.down).toBeUndefined()
    expect(migration.destroysData).toBeUndefined()
    expect(schemaOperationsOf(migration)?.irreversible).toEqual(operation(schemaOperations))

    const written = schemaMigration(
      { store, down: (s) => [s.dropIndex('hotel_stars'), s.sql('truncate hotel')] },
      (s) => [operation(s), s.createIndex('hotel_stars', 'hotel', ['stars'])],
    )
    expect(written.sql?.down).toEqual(['drop index "hotel_stars"', 'truncate hotel'])
    expect(written.destroysData).toBe('drops what its raw SQL drops or truncates')
  })

  it('refuses concurrently in a transaction, and drops concurrently in the derived down', () => {
    const attempt = () =>
      schemaMigration({ store }, (s) => [s.createIndex('hotel_name', 'hotel', ['name'], { concurrently: true })])
    expect(attempt).toThrow(FluxError)
    expect(attempt).toThrow(
      'schemaMigration: createIndex hotel_name runs concurrently, which PostgreSQL refuses inside a transaction',
    )
    try {
      attempt()
    } catch (error) {
      expect((error as FluxError).code).toBe('MIGRATION_INVALID')
      expect((error as FluxError).hint).toContain('give the migration `transaction: false`')
    }
    const migration = schemaMigration({ store, transaction: false }, (s) => [
      s.createIndex('hotel_name', 'hotel', ['name'], { unique: true, concurrently: true }),
    ])
    expect(migration.transaction).toBe(false)
    expect(migration.sql).toEqual({
      up: ['create unique index concurrently "hotel_name" on "hotel" ("name")'],
      down: ['drop index concurrently "hotel_name"'],
    })
  })

  it('has a verify() outside a transaction where each operation can be looked up in the catalog', () => {
    const index = (s: Ops) => s.createIndex('hotel_name', 'hotel', ['name'], { concurrently: true })
    expect(typeof schemaMigration({ store, transaction: false }, (s) => [index(s)]).verify).toBe('function')
    const both = (s: Ops) => [s.addColumn('hotel', 'city', { type: 'text' }), s.dropTable('old'), s.dropIndex('x')]
    expect(typeof schemaMigration({ store, transaction: false }, both).verify).toBe('function')
    // in a transaction a crash rolls everything back: nothing to verify
    expect(schemaMigration({ store }, both).verify).toBeUndefined()
    expect(
      schemaMigration({ store, transaction: false }, (s) => [index(s), s.addCheck('hotel_name', 'hotel', 'true')])
        .verify,
    ).toBeUndefined()
  })

  it('refuses an empty list and an alterColumn that changes nothing', () => {
    expect(() => schemaMigration({ store }, () => [])).toThrow('schemaMigration has no operations')
    expect(() =>
      schemaMigration({ store }, (s) => [s.alterColumn('hotel', 'stars', { was: { type: 'integer' } })]),
    ).toThrow('schemaMigration: alterColumn hotel.stars changes nothing')
  })
})

type Ops = SchemaOperations
