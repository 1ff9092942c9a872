import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { migrate } from '@flux/core'
import pg from 'pg'
import { afterAll, expect, it } from 'vitest'
import { pgStore } from '../src/index.ts'
import { testProject } from './pg-project.ts'
import { adminPool, describeWithServer } from './pg-test-helpers.ts'

// Real migration histories go through flux and through psql, each into a database of its own;
// the two schemas must come out the same (pg_dump), and a migration that fails must fail in
// both, flux naming the line psql shows. The corpora are read in place from ../shared beside
// the checkout (CI has them there too), and never copied into the repository.
const here = dirname(fileURLToPath(import.meta.url))
const CORPORA = join(here, '../../../../shared/corpora')

interface Migration {
  /** The file name without `.sql`; names sort in the order the history applies. */
  name: string
  sql: string
}

const read = (...path: string[]) => readFileSync(join(CORPORA, ...path), 'utf8')
const pad = (number: string) => number.padStart(4, '0')
// A file that opens and commits a transaction itself (golang-migrate and Prisma send a file as
// one query, so they leave that to the file) gets flux's own transaction, its default, instead:
// left in, its COMMIT would end flux's transaction before the ledger write. The lines are
// blanked, not removed, so that line numbers stay those of the original.
const ownTransaction = (sql: string) => sql.replace(/^[ \t]*(begin|commit)[ \t]*;[ \t]*$/gim, '')

const CORPUS: Record<string, () => Migration[]> = {
  // diesel runs each up.sql in a transaction, as flux does
  'lemmy-diesel': () =>
    readdirSync(join(CORPORA, 'lemmy-diesel'))
      .filter((entry) => existsSync(join(CORPORA, 'lemmy-diesel', entry, 'up.sql')))
      .sort()
      .map((entry) => ({ name: entry, sql: read('lemmy-diesel', entry, 'up.sql') })),
  // golang-migrate orders by version number, and skips 36_*.sql, which has no `.up`
  'tracetest-golang-migrate': () =>
    readdirSync(join(CORPORA, 'tracetest-golang-migrate'))
      .flatMap((file) => {
        const match = /^(\d+)_(.*)\.up\.sql$/.exec(file)
        return match
          ? [{ name: `${pad(match[1]!)}_${match[2]}`, sql: ownTransaction(read('tracetest-golang-migrate', file)) }]
          : []
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
  // the journal lists the files in the order of their names
  'dokploy-drizzle': () =>
    readdirSync(join(CORPORA, 'dokploy-drizzle'))
      .filter((file) => /^\d{4}_.*\.sql$/.test(file))
      .sort()
      .map((file) => ({ name: file.slice(0, -'.sql'.length), sql: read('dokploy-drizzle', file) })),
  'rallly-prisma': () =>
    readdirSync(join(CORPORA, 'rallly-prisma'))
      .filter((entry) => existsSync(join(CORPORA, 'rallly-prisma', entry, 'migration.sql')))
      .sort()
      .map((entry) => ({ name: entry, sql: ownTransaction(read('rallly-prisma', entry, 'migration.sql')) })),
}

// What a hand-written splitter gets wrong, each in a statement whose result shows in the schema;
// the last migration fails on purpose, after a statement whose `;` follows a `-- comment`.
const TRICKY: Migration[] = [
  {
    name: '0001_tricky',
    sql: `create table a (id int primary key) -- the a table; its ; is on the next line
;
create table b (id int, note text default E'it\\'s; -- not a comment') /* the b table */ ;
create table "semi;colon" (/* a /* nested; */ comment; */ "x;y" text default U&'d\\0061t\\+000061;');
create function f() returns text language plpgsql as $$
begin
  -- a comment; with a semicolon
  return 'x;y';
end
$$;
create function g() returns text language sql as $fn$ select '$$;--' $fn$ -- trailing
;
create function h(x int) returns int language sql
begin atomic
  select case when x > 0 then 1 else 0 end;
end -- the end of h
;
create rule a_copy as on insert to a do also (insert into b values (new.id, 'one'); insert into b values (new.id, 'two'));
create view v as select f() as f, g() as g, h(1) as h, note from b -- no semicolon, end of file`,
  },
  {
    name: '0002_fails',
    sql: `create table c (id int) -- the c table
;
insert into c
  select id
  from no_such_table;
`,
  },
]

/** The newest PostgreSQL client programs, as scripts/services finds the server's. */
function pgProgram(name: string): string {
  const versions = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql') : []
  for (const version of versions.sort((a, b) => Number(b) - Number(a))) {
    const program = join('/usr/lib/postgresql', version, 'bin', name)
    if (existsSync(program)) return program
  }
  return name
}

function run(command: string, args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

const cleanups: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describeWithServer('a .sql corpus applied by flux gives the schema psql gives', (url) => {
  const databaseUrl = (database: string) => url.replace(/\/[^/?]*(\?|$)/, `/${database}$1`)

  async function freshDatabase(label: string): Promise<string> {
    const name = `flux_corpus_${randomBytes(4).toString('hex')}_${label}`
    // the test role creates databases: scripts/services makes it the server's superuser
    await adminPool(url).query(`create database "${name}"`)
    cleanups.push(() => adminPool(url).query(`drop database if exists "${name}" with (force)`))
    return name
  }

  /** The migrations as flux .sql files, in a folder of their own. */
  async function files(migrations: Migration[]): Promise<{ dir: string; texts: Map<string, string> }> {
    const dir = await mkdtemp(join(tmpdir(), 'flux-corpus-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    await mkdir(join(dir, 'migrations'))
    const texts = new Map<string, string>()
    for (const migration of migrations) {
      const text = `-- flux:store corpus\n-- flux:up\n${migration.sql}`
      texts.set(migration.name, text)
      await writeFile(join(dir, 'migrations', `${migration.name}.sql`), text)
    }
    return { dir, texts }
  }

  async function schema(database: string): Promise<string> {
    const dump = await run(pgProgram('pg_dump'), [
      '--schema-only',
      '--no-owner',
      '--no-privileges',
      '--exclude-table=public.flux_ledger*',
      databaseUrl(database),
    ])
    expect(dump.code, dump.stderr).toBe(0)
    // pg_dump ≥ 15.14 fences its output with a random key
    return dump.stdout.replace(/^\\(un)?restrict .*$/gm, '')
  }

  async function ledgerCount(database: string): Promise<number> {
    const client = new pg.Client({ connectionString: databaseUrl(database) })
    await client.connect()
    try {
      const { rows } = await client.query('select count(*)::int as count from public.flux_ledger')
      return (rows[0] as { count: number }).count
    } finally {
      await client.end()
    }
  }

  /** Applies the migrations with flux and with psql, each to a fresh database, and compares. */
  async function applyBoth(migrations: Migration[]) {
    const { dir, texts } = await files(migrations)
    const [byFlux, byPsql] = await Promise.all([freshDatabase('flux'), freshDatabase('psql')])
    // psql runs the same files, each in a transaction of its own as flux does, and stops at the first error
    const driver = ['\\set ON_ERROR_STOP on']
    for (const migration of migrations) {
      driver.push('begin;', `\\i '${join(dir, 'migrations', `${migration.name}.sql`)}'`, 'commit;')
    }
    await writeFile(join(dir, 'psql-driver.sql'), `${driver.join('\n')}\n`)
    const project = testProject(
      { corpus: pgStore({ url: databaseUrl(byFlux) }) },
      migrations.map((migration) => ({ name: migration.name, sql: texts.get(migration.name)! })),
    )
    const [report, psql] = await Promise.all([
      migrate(project, { direction: 'up' }),
      run(pgProgram('psql'), ['-X', '-q', '-d', databaseUrl(byPsql), '-f', join(dir, 'psql-driver.sql')]),
    ])
    const failed = /^psql:.*\/migrations\/([^/]+)\.sql:\d+: ERROR: {2}(.*)$/m.exec(psql.stderr)
    const failure = failed ? { name: failed[1]!, message: failed[2]! } : undefined
    const error = report.error?.message ?? ''
    if (failed && failure) {
      // the same migration fails in flux, with the same message, at the line psql shows
      const file = `migrations/${failure.name}.sql:`
      expect(error, psql.stderr).toContain(file)
      const [, line, message] = /^(\d+): (.*)$/s.exec(error.slice(error.indexOf(file) + file.length)) ?? []
      expect(message).toContain(failure.message)
      // psql shows the line it means, shortened with ... at either end when long
      const shown = /^LINE \d+: (?:\.\.\.)?(.*?)(?:\.\.\.)?$/m.exec(psql.stderr.slice(failed.index))?.[1]
      expect(shown, psql.stderr).toBeDefined()
      const words = (text: string) => text.replace(/\s+/g, ' ').trim()
      expect(words(texts.get(failure.name)!.split('\n')[Number(line) - 1] ?? '')).toContain(words(shown!))
    } else {
      expect(psql.code, psql.stderr).toBe(0)
      expect(report.error, error).toBeUndefined()
    }
    const applied = failure ? migrations.findIndex((migration) => migration.name === failure.name) : migrations.length
    expect(report.steps.filter((step) => step.status === 'applied')).toHaveLength(applied)
    expect(await ledgerCount(byFlux)).toBe(applied)
    const dump = await schema(byPsql)
    expect(await schema(byFlux)).toBe(dump)
    return { error, failure, applied, dump }
  }

  it('the hand-written tricky cases: the same schema, and the failing statement named at its line', async () => {
    const { error, failure, dump } = await applyBoth(TRICKY)
    for (const object of [
      'CREATE RULE a_copy',
      'CREATE TABLE public."semi;colon"',
      'BEGIN ATOMIC',
      'CREATE VIEW public.v',
    ]) {
      expect(dump).toContain(object)
    }
    expect(failure).toEqual({ name: '0002_fails', message: 'relation "no_such_table" does not exist' })
    // `from no_such_table`: line 5 of the SQL, under the two lines of the header
    expect(error).toContain('migrations/0002_fails.sql:7: relation "no_such_table" does not exist')
  })

  for (const [name, migrations] of Object.entries(CORPUS)) {
    // a migration written for a newer PostgreSQL than the server's (lemmy's
    // 2025-08-01-000016_smoosh-tables-together needs 16: a subquery in FROM without an alias)
    // ends the history there, for psql and flux alike; what comes after it is not applied
    it(`${name}: the same schema, as far as this server takes the history`, async () => {
      expect(existsSync(CORPORA), `no ${CORPORA}: check out the shared folder beside the repository`).toBe(true)
      const list = migrations()
      const { applied } = await applyBoth(list)
      // on the PostgreSQL that scripts/services installs (15), most of each history applies
      expect(applied).toBeGreaterThan(list.length / 2)
    })
  }
})
