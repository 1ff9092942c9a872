import { describe, expect, it } from 'vitest'
import { scanSql, splitSql } from './pg-sql-split.ts'

const texts = (sql: string) => splitSql(sql).map((statement) => statement.text)

describe('splitSql', () => {
  it('splits on top-level semicolons and gives each statement its 1-based start line', () => {
    const sql = 'create table a (id int);\n\ninsert into a values (1);  insert into a values (2);\n  select 1'
    expect(splitSql(sql)).toEqual([
      { text: 'create table a (id int)', line: 1 },
      { text: 'insert into a values (1)', line: 3 },
      { text: 'insert into a values (2)', line: 3 },
      { text: 'select 1', line: 4 },
    ])
  })

  it('keeps dollar-quoted bodies whole, with tags, semicolons and nested other tags inside', () => {
    const body = `create function f() returns int language plpgsql as $fn$
begin
  perform 1; -- not the end;
  raise notice 'it''s $$ here; too';
  return $x$;$x$::int;
end
$fn$`
    const sql = `${body};\nselect $$a;b$$, $tag_1$ ; $tag_1$;\nselect 2`
    expect(splitSql(sql)).toEqual([
      { text: body, line: 1 },
      { text: 'select $$a;b$$, $tag_1$ ; $tag_1$', line: 8 },
      { text: 'select 2', line: 9 },
    ])
  })

  it("keeps strings with ';', '--' and '' escapes, and E'' strings with backslash escapes, whole", () => {
    expect(texts("select 'a;b', 'it''s -- no comment; really';select E'\\'; still', e'\\\\';select 3")).toEqual([
      "select 'a;b', 'it''s -- no comment; really'",
      "select E'\\'; still', e'\\\\'",
      'select 3',
    ])
    // a backslash is not an escape in a standard string, even after a word ending in e
    expect(texts("select type'a\\';select 4")).toEqual(["select type'a\\'", 'select 4'])
  })

  it('keeps double-quoted identifiers whole, with "" escapes', () => {
    expect(texts('create table "we;ird""name" (x int);select 5')).toEqual([
      'create table "we;ird""name" (x int)',
      'select 5',
    ])
  })

  it('ignores semicolons in line comments and nested block comments, and counts their lines', () => {
    const sql = '-- a; comment\n/* outer; /* inner; */ still; comment\n*/ select 1; -- trailing;\n\n/* x */ select 2'
    expect(splitSql(sql)).toEqual([
      { text: 'select 1', line: 3 },
      { text: 'select 2', line: 5 },
    ])
  })

  it('does not take $1 parameters or identifiers with $ for dollar quotes', () => {
    expect(texts('prepare p as select $1;select a$b$ from t;select 6')).toEqual([
      'prepare p as select $1',
      'select a$b$ from t',
      'select 6',
    ])
  })

  it('keeps the BEGIN ATOMIC body of a SQL-standard function whole, CASE…END included', () => {
    const routine = `create or replace function g(x int) returns int language sql
begin atomic
  select case when x > 0 then 1 else 0 end;
  select 2;
end`
    expect(texts(`${routine};\ncreate table begin_end (begin int, "end" int);select 7`)).toEqual([
      routine,
      'create table begin_end (begin int, "end" int)',
      'select 7',
    ])
  })

  it('ends a statement at its last token: a comment before its `;` stays out, so a `;` after it cannot land in one', () => {
    const sql =
      'create table a (id int) -- the a table\n;\ncreate table b (id int) /* the b table */ ;\nselect 1 -- no semicolon'
    expect(splitSql(sql)).toEqual([
      { text: 'create table a (id int)', line: 1 },
      { text: 'create table b (id int)', line: 3 },
      { text: 'select 1', line: 4 },
    ])
    // comments inside a statement stay, with its lines
    expect(texts('select 1, -- one\n  2 /* two */ + 3\n;')).toEqual(['select 1, -- one\n  2 /* two */ + 3'])
  })

  it("keeps dollar-quoted bodies with ';' and '--' in them whole, and nothing after their closing tag", () => {
    expect(texts("select $$a; -- b$$ -- c\n;select $fn$ 'x'; -- y $$ $fn$; select 3")).toEqual([
      'select $$a; -- b$$',
      "select $fn$ 'x'; -- y $$ $fn$",
      'select 3',
    ])
  })

  it("reads U&'…' strings and U&\"…\" identifiers as standard ones, and E'…' with its escapes", () => {
    expect(texts("select U&'d\\0061t\\+000061;', U&\"we;ird\" from t; select E'\\';' || e'\\\\'; select 3")).toEqual([
      'select U&\'d\\0061t\\+000061;\', U&"we;ird" from t',
      "select E'\\';' || e'\\\\'",
      'select 3',
    ])
  })

  it('keeps a nested /* /* */ */ comment whole, inside a statement too', () => {
    expect(texts('select 1 /* a /* b; */ c; */ + 2; select 3')).toEqual([
      'select 1 /* a /* b; */ c; */ + 2',
      'select 3',
    ])
  })

  it('like psql, does not end a statement at a `;` inside parentheses (a rule with several actions)', () => {
    const rule = 'create rule r as on insert to a do also (insert into b values (1); insert into b values (2))'
    expect(texts(`${rule};\nselect 4`)).toEqual([rule, 'select 4'])
    // psql never counts below zero: the server reports the stray `)`
    expect(texts('select 1);select 2')).toEqual(['select 1)', 'select 2'])
  })

  it('refuses an unclosed parenthesis, and a BEGIN that psql would never see end, with their lines', () => {
    expect(() => splitSql('select 1;\ncreate table a (\n  id int;\nselect 2;')).toThrow(
      expect.objectContaining({ message: 'unclosed parenthesis', line: 2 }),
    )
    // `begin` as a routine's name opens a body for psql too; its `;` would end nothing after it
    expect(() =>
      splitSql("select 1;\ncreate function begin() returns int language sql as 'select 1';\nselect 2;"),
    ).toThrow(expect.objectContaining({ message: expect.stringContaining('BEGIN without END'), line: 2 }))
    expect(texts('create function "begin"() returns int language sql as \'select 1\';select 2')).toHaveLength(2)
  })

  it('refuses COPY … FROM stdin, whose data only psql can send, before reading the data as SQL', () => {
    const sql = "create table t (x text);\nCOPY public.t (x)\n  FROM STDIN;\nit's data\n\\.\nselect 1;"
    expect(() => splitSql(sql)).toThrow(
      expect.objectContaining({
        message: "COPY … FROM stdin needs psql's data stream, which flux cannot send",
        line: 2,
      }),
    )
    expect(
      texts("copy t from '/srv/t.csv'; copy (select 'from stdin') to stdout; copy t (stdin) to stdout"),
    ).toHaveLength(3)
  })

  it('refuses a psql command, which would reach the server as SQL', () => {
    expect(() => splitSql('select 1;\n\\set ON_ERROR_STOP on\nselect 2;')).toThrow(
      expect.objectContaining({ message: '`\\set` is a psql command, and flux runs no psql commands', line: 2 }),
    )
  })

  it('drops empty statements and comment-only tails', () => {
    expect(splitSql(';;\n  ; -- nothing\n/* nothing */')).toEqual([])
  })

  it('reports an unterminated string, identifier, dollar quote or comment with its line', () => {
    for (const [sql, what] of [
      ["select 1;\nselect 'open", 'string'],
      ['select 1;\nselect "open', 'quoted identifier'],
      ['select 1;\nselect $q$ open $Q$', 'dollar-quoted string $q$'],
      ['select 1;\n/* open /* */', 'block comment'],
    ] as const) {
      expect(() => splitSql(sql)).toThrow(expect.objectContaining({ message: `unterminated ${what}`, line: 2 }))
    }
  })
})

describe('scanSql directives', () => {
  it('sees -- flux: comments between statements, ending a statement left without its semicolon', () => {
    const { statements, directives } = scanSql(
      "-- flux:store catalog\n-- flux:up\ncreate table a (x int)\n-- flux:down\ndrop table a;\nselect '-- flux:up'",
    )
    expect(statements.map((statement) => statement.text)).toEqual([
      'create table a (x int)',
      'drop table a',
      "select '-- flux:up'",
    ])
    expect(directives).toEqual([
      { name: 'store', value: 'catalog', line: 1, statementsBefore: 0 },
      { name: 'up', value: '', line: 2, statementsBefore: 0 },
      { name: 'down', value: '', line: 4, statementsBefore: 1 },
    ])
  })

  it('ignores -- flux: lines inside dollar-quoted bodies', () => {
    const { directives } = scanSql(
      '-- flux:up\ncreate function f() returns int as $$\n-- flux:down\nselect 1 $$ language sql;',
    )
    expect(directives.map((directive) => directive.name)).toEqual(['up'])
  })
})
