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
