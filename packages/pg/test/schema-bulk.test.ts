import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { PGlite } from '@electric-sql/pglite'
import { type MigrationDefinition, migrate } from '@flux/core'
import pg from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { pgStore, schemaMigration } from '../src/index.ts'
import { testProject } from './pg-project.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

// schema.bulkInsert on the server: `flux plan --sql --offline` prints the rows' statements, and
// they are what the store is sent; the rows read back equal to the ones written, awkward
// strings and all; the derived down deletes exactly those rows by their key.
const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../../../apps/cli/bin/flux.js')
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const AWKWARD = [
  "it's",
  '"double" quotes',
  'back\\slash',
  '\\n is not a newline',
  'a real\nnewline\tand tab',
  'ends with a backslash \\',
  "''",
  '',
  '€ 日本語 😀 e\u0301 \u00a0nbsp',
  '$$ dollar $$ $tag$',
  "'); drop table currency; --",
  '/* not a comment */ -- nor this',
  "E'\\x41' and %s ? $1",
]

/** Rows whose key, text and JSON carry the awkward strings. */
const ROWS = AWKWARD.map((text, index) => ({
  code: text,
  name: `${text}|${index}`,
  rate: index === 0 ? null : index / 8,
  live: index % 2 === 0,
  since: new Date(Date.UTC(2024, 0, 1 + index, 12, 30, 15, 250)),
  meta: { text, list: [index, text, null, true], nested: { [text]: text } },
}))

const MIGRATION = `import { schemaMigration } from '@flux/pg'

const rows = JSON.parse(${JSON.stringify(JSON.stringify(ROWS))}).map((row) => ({ ...row, since: new Date(row.since) }))

export default schemaMigration({ store: 'catalog', schema: process.env.FLUX_SCHEMA }, (schema) => [
  schema.bulkInsert('currency', rows, { key: ['code'], rowsPerStatement: 5 }),
])
`

/** Whether every statement occurs in the text, each after the one before. */
function inOrder(text: string, statements: readonly string[]): boolean {
  let at = 0
  for (const statement of statements) {
    const found = text.indexOf(statement, at)
    if (found < 0) return false
    at = found + statement.length
  }
  return true
}

describeWithServer('schema.bulkInsert on the server', (url) => {
  it('plans the rows offline, sends exactly that, reads them back unchanged, and its down deletes only them', async () => {
    const schema = randomSchema()
    process.env.FLUX_SCHEMA = schema
    const admin = adminPool(url)
    cleanups.push(() => admin.query(`drop schema if exists "${schema}" cascade`))
    await admin.query(`create schema "${schema}"`)
    await admin.query(
      `create table "${schema}".currency (code text primary key, name text, rate double precision, live boolean, since timestamptz, meta jsonb)`,
    )
    await admin.query(`insert into "${schema}".currency (code, name) values ('KEEP', 'there before')`)

    await mkdir(join(here, '../.flux-tmp'), { recursive: true })
    const dir = await mkdtemp(join(here, '../.flux-tmp/bulk-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { catalog: pgStore({ url: process.env.CATALOG_URL, schema: '${schema}' }) } })
`,
    )
    await mkdir(join(dir, 'migrations'))
    await writeFile(join(dir, 'migrations/0001_currencies.ts'), MIGRATION)

    const env: NodeJS.ProcessEnv = { ...process.env }
    delete env.CATALOG_URL
    const plan = spawnSync(process.execPath, [fluxBin, 'plan', '--sql', '--offline'], {
      cwd: dir,
      env,
      encoding: 'utf8',
    })
    expect(plan.status, plan.stderr).toBe(0)
    const heading = '-- app/0001_currencies (migrations/0001_currencies.ts) on store "catalog"\n'
    expect(plan.stdout.startsWith(heading)).toBe(true)
    const planned = plan.stdout.slice(heading.length).trimEnd()
    // 13 rows, 5 a statement
    expect(planned.match(/^insert into /gm)).toHaveLength(3)
    expect(planned).toContain(
      `insert into "${schema}"."currency" ("code", "name", "rate", "live", "since", "meta") values ('it''s', 'it''s|0', null, true, '2024-01-01T12:30:15.250Z', '{"text":"it''s",`,
    )
    expect(planned).toContain(`('back\\slash', 'back\\slash|2', 0.25, true, `)

    const sent: string[] = []
    class RecordingClient extends pg.Client {
      override query(...args: unknown[]): any {
        const [query] = args
        sent.push(typeof query === 'string' ? query : String((query as { text?: unknown })?.text))
        return (super.query as (...rest: unknown[]) => unknown)(...args)
      }
    }
    const pool = new pg.Pool({ connectionString: url, Client: RecordingClient as unknown as typeof pg.Client })
    cleanups.push(() => pool.end())
    const definition = (await import(pathToFileURL(join(dir, 'migrations/0001_currencies.ts')).href))
      .default as MigrationDefinition
    const project = () => testProject({ catalog: pgStore({ pool, schema }) }, [{ name: '0001_currencies', definition }])

    const up = await migrate(project(), { direction: 'up' })
    expect(up.error).toBeUndefined()
    // what ran is what the plan printed: each statement, whole and in order, however batched
    const statements = definition.sql!.up
    expect(planned).toBe(statements.map((statement) => `${statement};`).join('\n'))
    expect(inOrder(sent.join('\n'), statements)).toBe(true)

    const { rows } = await admin.query(
      `select code, name, rate, live, since, meta from "${schema}".currency where code <> 'KEEP' order by name collate "C"`,
    )
    const written = [...ROWS].sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0))
    expect(rows).toEqual(written)

    const from = sent.length
    const down = await migrate(project(), { direction: 'down', steps: 1 })
    expect(down.error).toBeUndefined()
    expect(definition.sql?.down).toHaveLength(3)
    expect(definition.sql?.down?.[0]).toBe(
      `delete from "${schema}"."currency" where "code" in ('it''s', '"double" quotes', 'back\\slash', '\\n is not a newline', 'a real\nnewline\tand tab')`,
    )
    expect(inOrder(sent.slice(from).join('\n'), definition.sql!.down!)).toBe(true)
    const left = await admin.query(`select code, name from "${schema}".currency`)
    expect(left.rows).toEqual([{ code: 'KEEP', name: 'there before' }])
  })
})

describe('schema.bulkInsert on PGlite', () => {
  it('applies the rows, reads them back unchanged, and its down deletes only them', async () => {
    const db = await PGlite.create()
    cleanups.push(() => db.close())
    await db.exec(
      'create table currency (code text primary key, name text, rate double precision, live boolean, since timestamptz, meta jsonb)',
    )
    await db.exec("insert into currency (code, name) values ('KEEP', 'there before')")
    const definition = schemaMigration({ store: 'catalog' }, (schema) => [
      schema.bulkInsert('currency', ROWS, { key: ['code'], rowsPerStatement: 5 }),
    ])
    const project = () => testProject({ catalog: pgStore({ pglite: db }) }, [{ name: '0001_currencies', definition }])
    expect((await migrate(project(), { direction: 'up' })).error).toBeUndefined()
    const { rows } = await db.query(
      `select code, name, rate, live, since, meta from currency where code <> 'KEEP' order by name collate "C"`,
    )
    expect(rows).toEqual(
      [...ROWS].sort((left, right) => (left.name < right.name ? -1 : left.name > right.name ? 1 : 0)),
    )
    expect((await migrate(project(), { direction: 'down', steps: 1 })).error).toBeUndefined()
    expect((await db.query('select code, name from currency')).rows).toEqual([{ code: 'KEEP', name: 'there before' }])
  })
})
