import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FluxError } from '@flux/core'
import { afterAll, describe, expect, it } from 'vitest'
import { drizzleDeclaredSql, isDrizzleDeclared } from './pg-declared-drizzle.ts'

// the modules sit in this package, where drizzle-orm and drizzle-kit resolve
const here = dirname(fileURLToPath(import.meta.url))
let dir: string | undefined
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

async function declared(name: string, text: string): Promise<{ path: string; display: string }> {
  if (!dir) {
    await mkdir(join(here, '../../.flux-tmp'), { recursive: true })
    dir = await mkdtemp(join(here, '../../.flux-tmp/declared-drizzle-'))
  }
  await writeFile(join(dir, name), text)
  return { path: join(dir, name), display: `db/${name}` }
}

async function failure(call: Promise<unknown>): Promise<string> {
  try {
    await call
  } catch (error) {
    if (FluxError.is(error)) return `${error.code}: ${error.message} (hint: ${error.hint})`
    throw error
  }
  return 'no error'
}

describe('a Drizzle schema module as the declared schema', () => {
  it('is told apart from a .sql file by its extension', () => {
    expect(
      ['db/schema.ts', 'db/schema.mts', 'db/schema.js', 'db/schema.mjs', 'db/schema.sql'].map(isDrizzleDeclared),
    ).toEqual([true, true, true, true, false])
  })

  it("becomes drizzle-kit's CREATE statements, with no schema named outside string literals", async () => {
    const schema = await declared(
      'schema.ts',
      `import { integer, pgEnum, pgTable, text } from 'drizzle-orm/pg-core'
export const kind = pgEnum('kind', ['inn', 'resort'])
export const hotel = pgTable('hotel', { id: integer('id').primaryKey(), note: text('note').default('"public".x'), kind: kind('kind') })
export const room = pgTable('room', { hotelId: integer('hotel_id').references(() => hotel.id) })
`,
    )
    const text = await drizzleDeclaredSql(schema)
    expect(text).toContain(`CREATE TYPE "kind" AS ENUM('inn', 'resort');`)
    expect(text).toContain(`"note" text DEFAULT '"public".x',`)
    expect(text).toContain(`REFERENCES "hotel"("id")`)
    expect(text.replaceAll(`'"public".x'`, '')).not.toContain('public')
  })

  it('refuses tables in a pgSchema, naming the table and what to do', async () => {
    const schema = await declared(
      'in-schema.ts',
      `import { integer, pgSchema } from 'drizzle-orm/pg-core'
export const app = pgSchema('app')
export const hotel = app.table('hotel', { id: integer('id').primaryKey() })
`,
    )
    expect(await failure(drizzleDeclaredSql(schema))).toBe(
      "CONFIG_INVALID: the declared Drizzle schema db/in-schema.ts puts table hotel in pgSchema('app'): autogenerate compares one schema, and needs the tables declared without one (hint: declare them with pgTable() and pgEnum(), and name the live schema to compare with in pgStore()'s declaredSchema option)",
    )
  })

  it('says what to do when the module is missing, exports no table, or drizzle-kit is not installed', async () => {
    expect(await failure(drizzleDeclaredSql({ path: join(here, 'no-such-schema.ts'), display: 'db/schema.ts' }))).toBe(
      "CONFIG_INVALID: cannot read the declared schema db/schema.ts (hint: declared is a Drizzle schema module or a .sql file, relative to the config's folder: create it, or fix the path)",
    )
    const empty = await declared('empty.mjs', 'export const answer = 42\n')
    expect(await failure(drizzleDeclaredSql(empty))).toBe(
      'CONFIG_INVALID: the declared Drizzle schema db/empty.mjs exports no pg tables (hint: export the pgTable(), pgEnum() and other objects of the schema from the module (export const hotel = pgTable(…)))',
    )
    const missing = Object.assign(new Error("Cannot find package 'drizzle-kit'"), { code: 'ERR_MODULE_NOT_FOUND' })
    expect(await failure(drizzleDeclaredSql(empty, () => Promise.reject(missing)))).toBe(
      'CONFIG_INVALID: the declared schema db/empty.mjs is a Drizzle schema module, and drizzle-kit is not installed to read it (hint: install drizzle-kit beside drizzle-orm in the project (npm install --save-dev drizzle-kit), or declare a .sql file of CREATE statements)',
    )
    expect(await failure(drizzleDeclaredSql(empty, () => Promise.resolve({ generateDrizzleJson: () => ({}) })))).toBe(
      'CONFIG_INVALID: the installed drizzle-kit has no generateDrizzleJson/generateMigration in drizzle-kit/api, needed to read the declared schema db/empty.mjs (hint: install drizzle-kit 0.31 or later: npm install --save-dev drizzle-kit@latest)',
    )
  })
})
