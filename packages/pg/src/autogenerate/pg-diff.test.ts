import { describe, expect, it } from 'vitest'
import { diffSchemas } from './pg-diff.ts'
import type { SchemaModel, TableModel } from './pg-introspect.ts'

function schema(tables: TableModel[], enums: Record<string, string[]> = {}): SchemaModel {
  return {
    tables: new Map(tables.map((table) => [table.name, table])),
    enums: new Map(Object.entries(enums).map(([name, values]) => [name, { name, values }])),
  }
}

const hotel: TableModel = {
  name: 'hotel',
  columns: [
    { name: 'id', type: 'integer', notNull: true },
    { name: 'name', type: 'text', notNull: true },
  ],
  constraints: [{ name: 'hotel_pkey', type: 'p', definition: 'PRIMARY KEY (id)' }],
  indexes: [],
}

const room: TableModel = {
  name: 'room',
  columns: [
    { name: 'id', type: 'integer', notNull: true },
    { name: 'hotel_id', type: 'integer', notNull: false },
  ],
  constraints: [
    { name: 'room_pkey', type: 'p', definition: 'PRIMARY KEY (id)' },
    { name: 'room_hotel_id_fkey', type: 'f', definition: 'FOREIGN KEY (hotel_id) REFERENCES hotel(id)' },
  ],
  indexes: [{ name: 'room_hotel', definition: 'CREATE INDEX room_hotel ON room USING btree (hotel_id)' }],
}

describe('diffSchemas', () => {
  it('finds nothing between equal schemas', () => {
    expect(diffSchemas(schema([hotel, room], { mood: ["'ok'"] }), schema([hotel, room], { mood: ["'ok'"] }))).toEqual({
      up: [],
      down: [],
      notes: [],
      renames: [],
    })
  })

  it('creates tables before the foreign keys between them, and its down drops them in the reverse order', () => {
    const diff = diffSchemas(schema([]), schema([room, hotel]))
    expect(diff.up).toEqual([
      'create table room (\n  id integer not null,\n  hotel_id integer,\n  constraint room_pkey PRIMARY KEY (id)\n)',
      'create table hotel (\n  id integer not null,\n  name text not null,\n  constraint hotel_pkey PRIMARY KEY (id)\n)',
      'alter table room add constraint room_hotel_id_fkey FOREIGN KEY (hotel_id) REFERENCES hotel(id)',
      'CREATE INDEX room_hotel ON room USING btree (hotel_id)',
    ])
    expect(diff.down).toEqual([
      'drop index room_hotel',
      'alter table room drop constraint room_hotel_id_fkey',
      'drop table hotel',
      'drop table room',
    ])
  })

  it('drops the foreign keys of dropped tables before the tables, and its down creates them again from the live definition', () => {
    const diff = diffSchemas(schema([hotel, room]), schema([]))
    expect(diff.up).toEqual([
      'alter table room drop constraint room_hotel_id_fkey',
      'drop table hotel',
      'drop table room',
    ])
    expect(diff.down).toEqual([
      'create table room (\n  id integer not null,\n  hotel_id integer,\n  constraint room_pkey PRIMARY KEY (id)\n)',
      'CREATE INDEX room_hotel ON room USING btree (hotel_id)',
      'create table hotel (\n  id integer not null,\n  name text not null,\n  constraint hotel_pkey PRIMARY KEY (id)\n)',
      'alter table room add constraint room_hotel_id_fkey FOREIGN KEY (hotel_id) REFERENCES hotel(id)',
    ])
    expect(diff.notes).toEqual([
      'table hotel is dropped; its down creates it again, empty',
      'table room is dropped; its down creates it again, empty',
    ])
  })

  it('never guesses a rename: a drop and an add, and a note with the rename to write instead', () => {
    const renamed = { ...hotel, columns: [hotel.columns[0]!, { name: 'title', type: 'text', notNull: true }] }
    const diff = diffSchemas(schema([hotel]), schema([renamed]))
    expect(diff.up).toEqual(['alter table hotel drop column name', 'alter table hotel add column title text not null'])
    expect(diff.down).toEqual([
      'alter table hotel drop column title',
      'alter table hotel add column name text not null',
    ])
    expect(diff.notes).toEqual([
      'column hotel.name dropped and hotel.title added; if it was a rename, replace both with: alter table hotel rename column name to title',
      'column hotel.name is dropped with its data; its down adds it back, empty (it is not null without a default: that fails if hotel has rows)',
      'column hotel.title is not null without a default: adding it fails if hotel has rows; give it a default, or add it nullable, fill it, then set not null',
    ])
    expect(diff.renames).toEqual([
      {
        id: 'column hotel.name title',
        question:
          'column hotel.name is gone and hotel.title is new: was it renamed (alter table hotel rename column name to title)?',
      },
    ])

    // answered yes: a rename, then what else changed in the column
    const answered = diffSchemas(
      schema([hotel]),
      schema([{ ...renamed, columns: [hotel.columns[0]!, { name: 'title', type: 'text', notNull: false }] }]),
      new Set(['column hotel.name title']),
    )
    expect(answered.up).toEqual([
      'alter table hotel rename column name to title',
      'alter table hotel alter column title drop not null',
    ])
    expect(answered.down).toEqual([
      'alter table hotel alter column title set not null',
      'alter table hotel rename column title to name',
    ])
    expect(answered.notes).toEqual(['column hotel.name is renamed to title, as answered'])

    const table = diffSchemas(schema([hotel]), schema([{ ...hotel, name: 'inn' }]))
    expect(table.notes).toContain(
      'table hotel dropped and table inn created; if it was a rename, replace both with: alter table hotel rename to inn',
    )
    expect(table.up).toEqual([
      'create table inn (\n  id integer not null,\n  name text not null,\n  constraint hotel_pkey PRIMARY KEY (id)\n)',
      'drop table hotel',
    ])
    const inn = diffSchemas(schema([hotel]), schema([{ ...hotel, name: 'inn' }]), new Set(['table hotel inn']))
    expect(inn.up).toEqual(['alter table hotel rename to inn'])
    expect(inn.down).toEqual(['alter table inn rename to hotel'])
  })

  it('drops and adds again a constraint or an index whose definition changed', () => {
    const before = {
      ...room,
      constraints: [...room.constraints, { name: 'room_id_check', type: 'c', definition: 'CHECK ((id > 0))' }],
    }
    const after = {
      ...room,
      constraints: [...room.constraints, { name: 'room_id_check', type: 'c', definition: 'CHECK ((id > 10))' }],
      indexes: [{ name: 'room_hotel', definition: 'CREATE UNIQUE INDEX room_hotel ON room USING btree (hotel_id)' }],
    }
    const diff = diffSchemas(schema([hotel, before]), schema([hotel, after]))
    expect(diff.up).toEqual([
      'drop index room_hotel',
      'alter table room drop constraint room_id_check',
      'alter table room add constraint room_id_check CHECK ((id > 10))',
      'CREATE UNIQUE INDEX room_hotel ON room USING btree (hotel_id)',
    ])
    expect(diff.down).toEqual([
      'drop index room_hotel',
      'alter table room drop constraint room_id_check',
      'alter table room add constraint room_id_check CHECK ((id > 0))',
      'CREATE INDEX room_hotel ON room USING btree (hotel_id)',
    ])
  })

  it('adds enum values in their declared place, and says what it cannot do with an enum', () => {
    const added = diffSchemas(
      schema([], { mood: ["'ok'", "'sad'"] }),
      schema([], { mood: ["'meh'", "'ok'", "'sad'", "'mad'"] }),
    )
    expect(added.up).toEqual([
      "alter type mood add value if not exists 'meh' before 'ok'",
      "alter type mood add value if not exists 'mad' after 'sad'",
    ])
    expect(added.down).toEqual([])
    expect(added.notes).toHaveLength(2)

    const reordered = diffSchemas(schema([], { mood: ["'ok'", "'sad'"] }), schema([], { mood: ["'sad'", "'ok'"] }))
    expect(reordered.up).toEqual([])
    expect(reordered.notes).toEqual([
      "enum mood is ('ok', 'sad') and the declaration has ('sad', 'ok'): PostgreSQL cannot drop or reorder enum values; nothing was generated for it",
    ])
  })

  it('changes a column in place: type, null and default, each with its inverse', () => {
    const before = { ...hotel, columns: [hotel.columns[0]!, { name: 'name', type: 'text', notNull: true }] }
    const after = {
      ...hotel,
      columns: [
        hotel.columns[0]!,
        { name: 'name', type: 'character varying(80)', notNull: false, default: "''::character varying" },
      ],
    }
    const diff = diffSchemas(schema([before]), schema([after]))
    expect(diff.up).toEqual([
      'alter table hotel alter column name type character varying(80) using name::character varying(80)',
      'alter table hotel alter column name drop not null',
      "alter table hotel alter column name set default ''::character varying",
    ])
    expect(diff.down).toEqual([
      'alter table hotel alter column name drop default',
      'alter table hotel alter column name set not null',
      'alter table hotel alter column name type text using name::text',
    ])
  })
  it('redoes a view that reads a table whose column changes type, and the views that read it, in dependency order', () => {
    const views = [
      { name: 'names', definition: 'SELECT hotel.name\n   FROM hotel', dependsOn: ['hotel'] },
      { name: 'short_names', definition: 'SELECT names.name\n   FROM names', dependsOn: ['names'] },
    ]
    const wider = {
      ...hotel,
      columns: [hotel.columns[0]!, { name: 'name', type: 'character varying(80)', notNull: true }],
    }
    const diff = diffSchemas({ ...schema([hotel]), views }, { ...schema([wider]), views })
    expect(diff.up).toEqual([
      'drop view short_names',
      'drop view names',
      'alter table hotel alter column name type character varying(80) using name::character varying(80)',
      'create view names as\nSELECT hotel.name\n   FROM hotel',
      'create view short_names as\nSELECT names.name\n   FROM names',
    ])
    expect(diff.down).toEqual([
      'drop view short_names',
      'drop view names',
      'alter table hotel alter column name type text using name::text',
      'create view names as\nSELECT hotel.name\n   FROM hotel',
      'create view short_names as\nSELECT names.name\n   FROM names',
    ])
    expect(diffSchemas({ ...schema([hotel]), views }, { ...schema([hotel]), views }).up).toEqual([])
  })
})
