import { execFileSync, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { afterAll, expect, it } from 'vitest'
import { adminPool, describeWithServer } from './pg-test-helpers.ts'

// `flux new --autogenerate` on a pg store whose `declared` is a Drizzle schema module (issue 19).
// The live database is compared, after each generated migration is applied, with drizzle-kit's
// own SQL for the module applied by psql to an empty database, both dumped by `pg_dump
// --schema-only`. The project sits in this package so that @flux/pg and drizzle-orm resolve.
const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../../../apps/cli/bin/flux.js')
// drizzle-kit's CommonJS build: its ES module takes five times as long to load
const { generateDrizzleJson, generateMigration } = createRequire(import.meta.url)(
  'drizzle-kit/api',
) as typeof import('drizzle-kit/api')
const cleanups: (() => Promise<unknown>)[] = []
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

const V1 = `import { index, integer, pgEnum, pgTable, serial, smallint, text, varchar } from 'drizzle-orm/pg-core'

export const mood = pgEnum('mood', ['ok', 'sad'])

export const hotel = pgTable('hotel', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  stars: smallint('stars'),
  mood: mood('mood').default('ok'),
})

export const room = pgTable(
  'room',
  {
    id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
    hotelId: integer('hotel_id')
      .notNull()
      .references(() => hotel.id, { onDelete: 'cascade' }),
    n: varchar('n', { length: 20 }),
  },
  (room) => [index('room_n').on(room.n)],
)
`

// a column and an index on hotel, an enum value, room.n dropped (with its index), a new table
// and a foreign key from room to it on a new column
const V2 = `import { index, integer, pgEnum, pgTable, serial, smallint, text } from 'drizzle-orm/pg-core'

export const mood = pgEnum('mood', ['ok', 'happy', 'sad'])

export const hotel = pgTable(
  'hotel',
  {
    id: serial('id').primaryKey(),
    name: text('name').notNull().unique(),
    stars: smallint('stars'),
    mood: mood('mood').default('ok'),
    city: text('city').notNull().default(''),
  },
  (hotel) => [index('hotel_city').on(hotel.city)],
)

export const guest = pgTable('guest', {
  id: integer('id').primaryKey(),
  email: text('email').notNull(),
})

export const room = pgTable('room', {
  id: integer('id').primaryKey().generatedAlwaysAsIdentity(),
  hotelId: integer('hotel_id')
    .notNull()
    .references(() => hotel.id, { onDelete: 'cascade' }),
  guestId: integer('guest_id').references(() => guest.id),
})
`

describeWithServer('flux new --autogenerate with a Drizzle schema module', (url) => {
  const databaseUrl = (database: string) => url.replace(/\/[^/?]*(\?|$)/, `/${database}$1`)

  async function freshDatabase(): Promise<string> {
    const name = `flux_drizzle_${randomBytes(4).toString('hex')}`
    // the test role creates databases: scripts/services makes it the server's superuser
    await adminPool(url).query(`create database "${name}"`)
    cleanups.push(() => adminPool(url).query(`drop database if exists "${name}" with (force)`))
    return databaseUrl(name)
  }

  async function project(declaration: string): Promise<string> {
    await mkdir(join(here, '../.flux-tmp'), { recursive: true })
    const dir = await mkdtemp(join(here, '../.flux-tmp/drizzle-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    await mkdir(join(dir, 'db'))
    // the ledger sits in public beside the app's tables; its tables are never compared, nor dumped
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({
  stores: { catalog: pgStore({ url: process.env.CATALOG_URL, declared: 'db/schema.ts' }) },
})
`,
    )
    await writeFile(join(dir, 'db/schema.ts'), declaration)
    return dir
  }

  function flux(dir: string, storeUrl: string, ...args: string[]) {
    const result = spawnSync(process.execPath, [fluxBin, ...args], {
      cwd: dir,
      env: { ...process.env, CATALOG_URL: storeUrl },
      encoding: 'utf8',
    })
    return { code: result.status, stdout: result.stdout, stderr: result.stderr }
  }

  /** `pg_dump --schema-only` of the public schema without flux's ledger, comments and psql's \restrict guard. */
  function dump(databaseUrl: string): string {
    const options = [
      '--schema-only',
      '--no-owner',
      '--no-privileges',
      '--schema=public',
      '--exclude-table=public.flux_ledger*',
    ]
    return execFileSync('pg_dump', [...options, databaseUrl], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => !line.startsWith('--') && !line.startsWith('\\') && line.trim() !== '')
      .join('\n')
  }

  /** drizzle-kit's own SQL for the module, as `drizzle-kit generate` writes it, applied by psql to an empty database. */
  async function drizzleDump(dir: string): Promise<string> {
    const module = await import(`${pathToFileURL(join(dir, 'db/schema.ts')).href}?${randomBytes(4).toString('hex')}`)
    const statements = await generateMigration(generateDrizzleJson({}), generateDrizzleJson(module))
    const reference = await freshDatabase()
    execFileSync('psql', ['--no-psqlrc', '--quiet', '--set=ON_ERROR_STOP=1', reference], {
      input: statements.join('\n'),
      encoding: 'utf8',
    })
    return dump(reference)
  }

  async function migrationFiles(dir: string): Promise<string[]> {
    return (await readdir(join(dir, 'migrations'))).filter((name) => name.endsWith('.sql')).sort()
  }

  it('declares, generates, applies, finds nothing more; a changed module generates the migration that makes the live schema equal to it', async () => {
    const live = await freshDatabase()
    const dir = await project(V1)

    const first = flux(dir, live, 'new', 'init', '--autogenerate')
    expect(first.code, first.stderr).toBe(0)
    const [init] = await migrationFiles(dir)
    expect(first.stdout).toContain(`created migrations/${init}`)
    const initText = await readFile(join(dir, 'migrations', init!), 'utf8')
    expect(initText).toMatch(/^-- flux:store catalog\n-- flux:up\n/)
    expect(initText).toContain("create type mood as enum ('ok', 'sad');")
    expect(initText).toContain(
      'alter table room add constraint room_hotel_id_hotel_id_fk FOREIGN KEY (hotel_id) REFERENCES hotel(id) ON DELETE CASCADE;',
    )
    expect(initText).not.toContain('public')

    const up = flux(dir, live, 'up')
    expect(up.code, up.stderr).toBe(0)
    const again = flux(dir, live, 'new', 'again', '--autogenerate')
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe('nothing to generate: store "catalog" already matches its declared schema\n')
    expect(await migrationFiles(dir)).toEqual([init])
    expect(dump(live)).toBe(await drizzleDump(dir))

    await writeFile(join(dir, 'db/schema.ts'), V2)
    const second = flux(dir, live, 'new', 'v2', '--autogenerate')
    expect(second.code, second.stderr).toBe(0)
    const [, v2] = await migrationFiles(dir)
    const v2Text = await readFile(join(dir, 'migrations', v2!), 'utf8')
    expect(v2Text).toContain("alter type mood add value if not exists 'happy' after 'ok';")
    expect(v2Text).toContain("alter table hotel add column city text default ''::text not null;")
    expect(v2Text).toContain('CREATE INDEX hotel_city ON hotel USING btree (city);')
    expect(v2Text).toContain('alter table room drop column n;')
    expect(v2Text).toContain('alter table room add column guest_id integer;')
    expect(v2Text).toContain(
      'alter table room add constraint room_guest_id_guest_id_fk FOREIGN KEY (guest_id) REFERENCES guest(id);',
    )
    const upV2 = flux(dir, live, 'up')
    expect(upV2.code, upV2.stderr).toBe(0)
    const third = flux(dir, live, 'new', 'v3', '--autogenerate')
    expect(third.code, third.stderr).toBe(0)
    expect(third.stdout).toContain('nothing to generate')
    expect(dump(live)).toBe(await drizzleDump(dir))
  })
})
