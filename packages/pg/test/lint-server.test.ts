// The lint's rewrite rules agree with PostgreSQL: a statement they report gives the table a new
// file (a rewrite, under an exclusive lock), the safe alternatives keep the one it had.
import type { MigrationDefinition } from '@flux/core'
import { expect, it } from 'vitest'
import { lintMigrations } from '../src/lint/pg-lint.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

const HOTEL = 'create table hotel (id bigint primary key, name varchar(40), city text, price numeric(8, 2))'

const CASES: [statement: string, rewrites: boolean][] = [
  ['alter table hotel add column token uuid default gen_random_uuid()', true],
  ['alter table hotel add column draw float8 default random()', true],
  ['alter table hotel add column seq bigserial', true],
  ['alter table hotel add column seen timestamptz default now()', false],
  ['alter table hotel add column stars smallint not null default 3', false],
  ['alter table hotel alter column id type text', true],
  ['alter table hotel alter column name type varchar(20)', true],
  ['alter table hotel alter column name type varchar(80)', false],
  ['alter table hotel alter column name type text', false],
  ['alter table hotel alter column city type varchar', false],
  ['alter table hotel alter column price type numeric(12, 2)', false],
  ['alter table hotel alter column price type numeric(12, 4)', true],
]

const definition = (statement: string): MigrationDefinition => ({
  store: 'catalog',
  sql: { up: [statement] },
  up: async () => {},
})

describeWithServer('lint rules against what PostgreSQL does', (url) => {
  it.each(CASES)('%s: rewrites %s, and the lint says so', async (statement, rewrites) => {
    const schema = randomSchema()
    const client = await adminPool(url).connect()
    const file = async () =>
      (await client.query<{ file: string }>(`select pg_relation_filenode('${schema}.hotel')::text as file`)).rows[0]!
        .file
    try {
      await client.query(`create schema ${schema}; set search_path to ${schema}`)
      await client.query(HOTEL)
      await client.query(`insert into hotel select n, 'hotel ' || n, 'city', n from generate_series(1, 100) n`)
      const before = await file()
      await client.query(statement)
      expect((await file()) !== before).toBe(rewrites)
    } finally {
      await client.query(`drop schema if exists ${schema} cascade; reset search_path`)
      client.release()
    }
    const findings = await lintMigrations([
      { id: 'app/1_hotel', file: 'migrations/1_hotel.ts', definition: definition(HOTEL) },
      { id: 'app/2_change', file: 'migrations/2_change.ts', definition: definition(statement) },
    ])
    expect(findings.map((finding) => finding.rule)).toEqual(
      rewrites ? [statement.includes(' type ') ? 'column-type-rewrite' : 'volatile-default'] : [],
    )
  })
})
