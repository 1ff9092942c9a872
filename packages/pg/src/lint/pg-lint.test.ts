import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MigrationDefinition } from '@flux/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadSqlMigration } from '../pg-sql-file.ts'
import { schemaMigration } from '../schema/pg-schema-migration.ts'
import { lintMigrations } from './pg-lint.ts'
import { lintIgnore } from './pg-lint-ignore.ts'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flux-pg-lint-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

// every test starts from a table created by an earlier migration: it exists, with rows
const HOTEL = `create table hotel (id bigint primary key, name varchar(40), city text, price numeric(8, 2));`

/** Lints .sql migrations, run in the order given, the first being `create table hotel`; findings of the last. */
async function lintSql(up: string, options: { down?: string; before?: string[] } = {}) {
  const sources = [HOTEL, ...(options.before ?? []), up]
  const subjects: { id: string; file: string; definition: MigrationDefinition }[] = []
  for (const [index, body] of sources.entries()) {
    const down = index === sources.length - 1 ? options.down : 'select 1;'
    const text = `-- flux:store catalog\n-- flux:up\n${body}\n${down === undefined ? '' : `-- flux:down\n${down}\n`}`
    const file = join(dir, `${index}_step.sql`)
    await writeFile(file, text)
    subjects.push({ id: `app/${index}_step`, file, definition: loadSqlMigration(file, text) })
  }
  const findings = await lintMigrations(subjects)
  return findings.filter((finding) => finding.migration === subjects[subjects.length - 1]!.id)
}

const rules = async (up: string, options?: Parameters<typeof lintSql>[1]) =>
  (await lintSql(up, options)).map((finding) => finding.rule)

describe('lint rules: each fires on a bad example and stays quiet on the safe alternative', () => {
  it('index-not-concurrent', async () => {
    const [finding] = await lintSql('create index hotel_city on hotel (city);', { down: 'drop index hotel_city;' })
    expect(finding).toMatchObject({ rule: 'index-not-concurrent', severity: 'error', line: 3, direction: 'up' })
    expect(finding!.message).toBe(
      '`create index hotel_city` on existing table "hotel" without `concurrently` blocks writes to it while the index builds',
    )
    expect(finding!.hint).toContain('create index concurrently')
    expect(await rules('create index concurrently hotel_city on hotel (city);', { down: 'select 1;' })).toEqual([])
    // a table created in the same migration is empty
    expect(await rules('create table room (id int, hotel bigint);\ncreate index room_hotel on room (hotel);')).toEqual(
      [],
    )
  })

  it('volatile-default', async () => {
    expect(
      await rules('alter table hotel add column token uuid default gen_random_uuid();', { down: 'select 1;' }),
    ).toEqual(['volatile-default'])
    expect(await rules('alter table hotel add column seq bigserial;', { down: 'select 1;' })).toEqual([
      'volatile-default',
    ])
    expect(
      (await lintSql('alter table hotel add column r float8 default random() * 10;', { down: 'select 1;' }))[0]!
        .message,
    ).toBe(
      'column "r" added to existing table "hotel" with the volatile default random() rewrites the whole table under an exclusive lock',
    )
    // constant and stable defaults are stored once (PostgreSQL 11+)
    expect(
      await rules(
        "alter table hotel add column stars smallint not null default 3, add column seen timestamptz default now(), add column note text default 'none';",
        { down: 'select 1;' },
      ),
    ).toEqual([])
  })

  it('column-type-rewrite', async () => {
    const [finding] = await lintSql('alter table hotel alter column id type text;', { down: 'select 1;' })
    expect(finding).toMatchObject({ rule: 'column-type-rewrite', severity: 'error' })
    expect(finding!.message).toBe(
      '`alter column "id" type text` on existing table "hotel" (from int8) rewrites the table under an exclusive lock',
    )
    expect(await rules('alter table hotel alter column name type varchar(20);', { down: 'select 1;' })).toEqual([
      'column-type-rewrite',
    ])
    expect(
      await rules('alter table hotel alter column name type varchar(80) using upper(name);', { down: 'select 1;' }),
    ).toEqual(['column-type-rewrite'])
    // widening needs no rewrite
    expect(
      await rules(
        'alter table hotel alter column name type varchar(80), alter column city type varchar, alter column price type numeric(12, 2);',
        { down: 'select 1;' },
      ),
    ).toEqual([])
    expect(await rules('alter table hotel alter column name type text;', { down: 'select 1;' })).toEqual([])
  })

  it('not-null-without-check', async () => {
    expect(await rules('alter table hotel alter column city set not null;', { down: 'select 1;' })).toEqual([
      'not-null-without-check',
    ])
    // a check added not valid, but never validated, does not help
    expect(
      await rules('alter table hotel alter column city set not null;', {
        down: 'select 1;',
        before: ['alter table hotel add constraint hotel_city_nn check (city is not null) not valid;'],
      }),
    ).toEqual(['not-null-without-check'])
    expect(
      await rules('alter table hotel alter column city set not null;', {
        down: 'select 1;',
        before: [
          'alter table hotel add constraint hotel_city_nn check (city is not null) not valid;',
          'alter table hotel validate constraint hotel_city_nn;',
        ],
      }),
    ).toEqual([])
  })

  it('drop-data, and drop-without-down when nothing reverts it', async () => {
    const dropped = await lintSql('alter table hotel drop column city;', {
      down: 'alter table hotel add column city text;',
    })
    expect(dropped).toMatchObject([
      { rule: 'drop-data', severity: 'warning', message: 'drops column "city" of table "hotel": its data is lost' },
    ])
    expect(await lintSql('drop table hotel;')).toMatchObject([
      { rule: 'drop-without-down', severity: 'error', message: 'drops table "hotel", and the migration has no down' },
    ])
    // the safe alternatives: a drop of what this migration created, and a down that drops
    expect(await rules('create table scratch (id int);\ndrop table scratch;')).toEqual([])
    expect(
      await rules('alter table hotel add column stars int;', { down: 'alter table hotel drop column stars;' }),
    ).toEqual([])
  })

  it('drop-used-by-view: a view of an earlier migration names the table or column', async () => {
    const view = 'create view hotel_city as select h.name, h.city from hotel h;'
    const findings = await lintSql('alter table hotel drop column city;', {
      down: 'alter table hotel add column city text;',
      before: [view],
    })
    expect(findings.map((finding) => [finding.rule, finding.message])).toEqual([
      ['drop-data', 'drops column "city" of table "hotel": its data is lost'],
      ['drop-used-by-view', 'drops column "city" of table "hotel", still named by view "hotel_city"'],
    ])
    // a column the view does not name; the view dropped first
    expect(await rules('alter table hotel drop column price;', { down: 'select 1;', before: [view] })).toEqual([
      'drop-data',
    ])
    expect(
      await rules('drop view hotel_city;\nalter table hotel drop column city;', { down: 'select 1;', before: [view] }),
    ).toEqual(['drop-data'])
    // a table named by a materialized view (through select *, which names every column)
    expect(
      await rules('drop table hotel;', {
        down: 'select 1;',
        before: ['create materialized view hotels_by_city as select * from hotel order by city;'],
      }),
    ).toEqual(['drop-data', 'drop-used-by-view'])
    expect(
      await rules('alter table hotel drop column price;', {
        down: 'select 1;',
        before: ['create materialized view hotels_by_city as select * from hotel order by city;'],
      }),
    ).toEqual(['drop-data', 'drop-used-by-view'])
  })
})

describe('lint: lines, ignores, TypeScript migrations', () => {
  it('names the line of each statement in the file, down sections included', async () => {
    const findings = await lintSql('select 1;\n\nalter table hotel\n  alter column city set not null;', {
      down: 'create index hotel_city on hotel (city);',
    })
    expect(findings.map((finding) => [finding.direction, finding.line, finding.statement, finding.rule])).toEqual([
      ['up', 5, 2, 'not-null-without-check'],
      ['down', 8, 1, 'index-not-concurrent'],
    ])
  })

  it('`-- flux-lint-ignore <rule> <reason>` accepts one rule for the next statement; an unknown rule is reported', async () => {
    const ignored = `-- hotel has 40 rows
-- flux-lint-ignore index-not-concurrent hotel is tiny
create index hotel_city on hotel (city);
create index hotel_name on hotel (name);`
    expect((await lintSql(ignored, { down: 'select 1;' })).map((finding) => [finding.rule, finding.line])).toEqual([
      ['index-not-concurrent', 6],
    ])
    const unknown = await lintSql(
      '-- flux-lint-ignore index-not-concurent typo\n-- flux-lint-ignore volatile-default\ncreate index hotel_city on hotel (city);',
      { down: 'select 1;' },
    )
    expect(unknown.map((finding) => [finding.rule, finding.severity, finding.message])).toEqual([
      ['index-not-concurrent', 'error', expect.stringContaining('hotel_city')],
      ['lint-ignore', 'error', 'the ignore of rule "volatile-default" gives no reason'],
      ['lint-ignore', 'error', 'an ignore names the unknown rule "index-not-concurent"'],
    ])
  })

  it("reports what PostgreSQL's parser refuses", async () => {
    expect(await lintSql('alter table hotel add colum x int;', { down: 'select 1;' })).toMatchObject([
      { rule: 'syntax', severity: 'error', message: expect.stringContaining('syntax error at or near "int"') },
    ])
  })

  it('lints a schemaMigration, and lintIgnore() accepts a rule for it', async () => {
    const create = { id: 'app/0_hotel', file: 'migrations/0_hotel.sql', definition: sqlDefinition(HOTEL) }
    const index = schemaMigration({ store: 'catalog' }, (schema) => [
      schema.createIndex('hotel_city', 'hotel', ['city']),
    ])
    const findings = await lintMigrations([
      create,
      { id: 'app/1_index', file: 'migrations/1_index.ts', definition: index },
    ])
    expect(findings).toMatchObject([
      { migration: 'app/1_index', file: 'migrations/1_index.ts', statement: 1, rule: 'index-not-concurrent' },
    ])
    expect(findings[0]!.line).toBeUndefined()
    expect(findings[0]!.hint).toContain("lintIgnore({ 'index-not-concurrent': '<reason>' }, …)")
    const accepted = lintIgnore({ 'index-not-concurrent': 'hotel has 40 rows' }, index)
    expect(
      await lintMigrations([create, { id: 'app/1_index', file: 'migrations/1_index.ts', definition: accepted }]),
    ).toEqual([])
  })
})

function sqlDefinition(up: string): MigrationDefinition {
  return { store: 'catalog', sql: { up: [up] }, up: async () => {} }
}
