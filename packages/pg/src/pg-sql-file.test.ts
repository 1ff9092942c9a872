import { FluxError, isMigrationDefinition } from '@flux/core'
import { describe, expect, it } from 'vitest'
import { loadSqlMigration, sqlOf } from './pg-sql-file.ts'

const FILE = 'migrations/20260101000000_hotels.sql'

function invalid(text: string): FluxError {
  try {
    loadSqlMigration(FILE, text)
  } catch (error) {
    if (FluxError.is(error)) return error
    throw error
  }
  throw new Error('expected loadSqlMigration to throw')
}

describe('loadSqlMigration', () => {
  it("reads the README's example, a remark after a directive's value included", () => {
    const definition = loadSqlMigration(
      FILE,
      `-- flux:store catalog
-- flux:parents 20261101090000_hotels   -- the table it indexes
-- flux:transaction off          (CREATE INDEX CONCURRENTLY cannot run in a transaction)
-- flux:up
create index concurrently hotel_name on hotel (name);
-- flux:down   (the index only)
drop index concurrently hotel_name;
`,
    )
    expect(definition).toMatchObject({ store: 'catalog', parents: ['20261101090000_hotels'], transaction: false })
    expect(sqlOf(definition)!.down!.map((statement) => statement.text)).toEqual(['drop index concurrently hotel_name'])
    expect(invalid('-- flux:store catalog\n-- flux:transaction maybe (why not)\n-- flux:up').message).toBe(
      `${FILE}:2: \`-- flux:transaction\` is one of on, off, true, false`,
    )
  })

  it('reads the header into a migration definition, and keeps the statements of both sections', () => {
    const definition = loadSqlMigration(
      FILE,
      `-- Hotels and their names.
-- flux:store catalog
-- flux:parents 20251231000000_init, 20251231000001_other
-- flux:after @travel/images/20260101000000_init
-- flux:transaction off
-- flux:up
create table hotel (id int primary key);
create index concurrently hotel_id on hotel (id);
-- flux:down
drop table hotel;
`,
    )
    expect(isMigrationDefinition(definition)).toBe(true)
    expect(definition).toMatchObject({
      store: 'catalog',
      parents: ['20251231000000_init', '20251231000001_other'],
      after: ['@travel/images/20260101000000_init'],
      transaction: false,
    })
    expect(typeof definition.down).toBe('function')
    expect(sqlOf(definition)).toEqual({
      up: [
        { text: 'create table hotel (id int primary key)', line: 7 },
        { text: 'create index concurrently hotel_id on hotel (id)', line: 8 },
      ],
      down: [{ text: 'drop table hotel', line: 10 }],
    })
  })

  it('leaves out what the header does not say: no down, default parents and transaction', () => {
    const definition = loadSqlMigration(FILE, '-- flux:store catalog\n-- flux:up\nselect 1')
    expect(definition.down).toBeUndefined()
    expect('parents' in definition).toBe(false)
    expect('transaction' in definition).toBe(false)
    expect(sqlOf(definition)).toEqual({ up: [{ text: 'select 1', line: 3 }] })
    expect(loadSqlMigration(FILE, '-- flux:store a\n-- flux:parents\n-- flux:up\n').parents).toEqual([])
    expect(loadSqlMigration(FILE, '-- flux:store a\n-- flux:repeatable always\n-- flux:up\n').repeatable).toBe('always')
  })

  it('refuses a file it cannot read with MIGRATION_INVALID naming the file and line', () => {
    const cases: [string, string][] = [
      ['-- flux:up\nselect 1', `${FILE}:1: no store`],
      ['-- flux:store a\nselect 1', `${FILE}:1: no \`-- flux:up\` section`],
      ['-- flux:store a\n-- flux:up\n-- flux:stores b', `${FILE}:3: unknown directive \`-- flux:stores\``],
      [
        '-- flux:store a\n-- flux:up\nselect 1;\n-- flux:parents x',
        `${FILE}:4: \`-- flux:parents\` belongs in the header`,
      ],
      ['-- flux:store a\n-- flux:down\n-- flux:up', `${FILE}:2: \`-- flux:down\` comes before \`-- flux:up\``],
      ['-- flux:store a\n-- flux:up\n-- flux:up', `${FILE}:3: a second \`-- flux:up\``],
      ['-- flux:store a\ncreate table x ();\n-- flux:up', `${FILE}:2: SQL before \`-- flux:up\``],
      [
        '-- flux:store a\n-- flux:transaction maybe\n-- flux:up',
        `${FILE}:2: \`-- flux:transaction\` is one of on, off`,
      ],
      ["-- flux:store a\n-- flux:up\nselect 1;\n\nselect 'open", `${FILE}:5: unterminated string`],
      ['-- flux:store a\n-- flux:up\ncreate table t (x int);\n\\i other.sql', `${FILE}:4: \`\\i\` is a psql command`],
    ]
    for (const [text, message] of cases) {
      const error = invalid(text)
      expect(error.code).toBe('MIGRATION_INVALID')
      expect(error.message).toContain(message)
      expect(error.file).toBe(FILE)
    }
  })

  it('refuses COPY … FROM stdin at load time, naming the file and line and saying what to do instead', () => {
    // as pg_dump writes it: the data lines follow, which are no SQL (an apostrophe in them included)
    const error = invalid(
      "-- flux:store a\n-- flux:up\ncreate table t (name text);\ncopy t (name) from stdin;\nO'Hare\n\\.\n-- flux:down\ndrop table t;\n",
    )
    expect(error.code).toBe('MIGRATION_INVALID')
    expect(error.message).toBe(`${FILE}:4: COPY … FROM stdin needs psql's data stream, which flux cannot send`)
    expect(error.hint).toBe(
      'load the rows with INSERT, with COPY FROM a file on the database server, or from a TypeScript migration',
    )
  })

  it('keeps a comment that ends a statement out of its text, so that `plan --sql` and the script sent stay valid', () => {
    const definition = loadSqlMigration(
      FILE,
      '-- flux:store a\n-- flux:up\ncreate table a (id int) -- the a table\n;\ncreate table b (id int);',
    )
    expect(definition.sql?.up).toEqual(['create table a (id int)', 'create table b (id int)'])
    expect(sqlOf(definition)?.up.map((statement) => statement.line)).toEqual([3, 5])
  })
})
