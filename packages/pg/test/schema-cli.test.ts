import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { MigrationDefinition } from '@flux/core'
import { afterEach, expect, it } from 'vitest'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

// `flux plan --sql`, `up` and `down` on schemaMigration files: the plan prints exactly the
// statements of the migration's `sql` (which schema-operations.test.ts shows are what the
// store is sent), offline. The project sits in this package so that `@flux/pg` resolves.
const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../../../apps/cli/bin/flux.js')
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function project(schema: string, migrations: Record<string, string>): Promise<string> {
  await mkdir(join(here, '../.flux-tmp'), { recursive: true })
  const dir = await mkdtemp(join(here, '../.flux-tmp/schema-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { catalog: pgStore({ url: process.env.CATALOG_URL, schema: '${schema}' }) } })
`,
  )
  await mkdir(join(dir, 'migrations'))
  for (const [name, text] of Object.entries(migrations)) await writeFile(join(dir, 'migrations', name), text)
  return dir
}

function flux(dir: string, url: string | undefined, ...args: string[]) {
  const env: NodeJS.ProcessEnv = { ...process.env }
  if (url === undefined) delete env.CATALOG_URL
  else env.CATALOG_URL = url
  const result = spawnSync(process.execPath, [fluxBin, ...args], { cwd: dir, env, encoding: 'utf8' })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

const HOTEL = `import { schemaMigration } from '@flux/pg'

export default schemaMigration({ store: 'catalog', schema: process.env.FLUX_SCHEMA }, (schema) => [
  schema.createTable('hotel', {
    id: { type: 'integer', primaryKey: true },
    name: { type: 'text', notNull: true },
    stars: { type: 'smallint', check: 'stars between 1 and 5' },
  }),
  schema.createIndex('hotel_name', 'hotel', ['name']),
])
`

const DROP_STARS = `import { schemaMigration } from '@flux/pg'

export default schemaMigration({ store: 'catalog', schema: process.env.FLUX_SCHEMA }, (schema) => [
  schema.dropColumn('hotel', 'stars'),
])
`

/** The text `flux plan --sql` prints for a step: a heading, then each statement ended by `;`. */
async function rendered(dir: string, name: string, direction: 'up' | 'down'): Promise<string> {
  const url = `${pathToFileURL(join(dir, 'migrations', name)).href}?${Math.random()}`
  const definition = (await import(url)).default as MigrationDefinition
  const statements = direction === 'up' ? definition.sql!.up : definition.sql!.down!
  return `-- app/${name.replace(/\.ts$/, '')} (migrations/${name}) on store "catalog"\n${statements.map((text) => `${text};`).join('\n')}\n\n`
}

describeWithServer('flux on schemaMigration files', (url) => {
  it('plans the SQL offline, applies it, plans the derived down, and asks before its drop table', async () => {
    const schema = randomSchema()
    process.env.FLUX_SCHEMA = schema
    cleanups.push(() => adminPool(url).query(`drop schema if exists "${schema}" cascade`))
    const dir = await project(schema, { '0001_hotel.ts': HOTEL })

    const plan = flux(dir, url, 'plan', '--sql')
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toBe(await rendered(dir, '0001_hotel.ts', 'up'))
    expect(plan.stdout).toBe(
      `-- app/0001_hotel (migrations/0001_hotel.ts) on store "catalog"
create table "${schema}"."hotel" ("id" integer primary key, "name" text not null, "stars" smallint check (stars between 1 and 5));
create index "hotel_name" on "${schema}"."hotel" ("name");

`,
    )

    const up = flux(dir, url, 'up')
    expect(up.code, up.stderr).toBe(0)
    const indexes = await adminPool(url).query(
      "select indexname from pg_indexes where schemaname = $1 and tablename = 'hotel' order by 1",
      [schema],
    )
    expect(indexes.rows).toEqual([{ indexname: 'hotel_name' }, { indexname: 'hotel_pkey' }])

    const planDown = flux(dir, url, 'plan', '--down', '--steps', '1', '--sql')
    expect(planDown.code, planDown.stderr).toBe(0)
    expect(planDown.stdout).toBe(await rendered(dir, '0001_hotel.ts', 'down'))
    expect(planDown.stdout).toContain(`drop index "${schema}"."hotel_name";\ndrop table "${schema}"."hotel";`)

    // its down drops a table: off a terminal, `flux down` refuses without --yes
    const refused = flux(dir, url, 'down', '--steps', '1')
    expect(refused.code, refused.stdout + refused.stderr).toBe(2)
    expect(refused.stdout + refused.stderr).toContain('drops table hotel')
    expect(
      (await adminPool(url).query('select to_regclass($1) as hotel', [`"${schema}".hotel`])).rows[0].hotel,
    ).not.toBeNull()

    const down = flux(dir, url, 'down', '--steps', '1', '--yes')
    expect(down.code, down.stderr).toBe(0)
    expect(
      (await adminPool(url).query('select to_regclass($1) as hotel', [`"${schema}".hotel`])).rows[0].hotel,
    ).toBeNull()
  })

  it('says in the down plan that a migration without a certain inverse has no down, and refuses to revert it', async () => {
    const schema = randomSchema()
    process.env.FLUX_SCHEMA = schema
    cleanups.push(() => adminPool(url).query(`drop schema if exists "${schema}" cascade`))
    const dir = await project(schema, { '0001_hotel.ts': HOTEL, '0002_drop_stars.ts': DROP_STARS })
    const up = flux(dir, url, 'up')
    expect(up.code, up.stderr).toBe(0)

    const planDown = flux(dir, url, 'plan', '--down', '--steps', '1', '--sql')
    expect(planDown.code).toBe(3)
    expect(planDown.stdout).toContain('-- app/0002_drop_stars (migrations/0002_drop_stars.ts) on store "catalog"\n-- ')
    expect(planDown.stdout).not.toContain('alter table')

    const down = flux(dir, url, 'down', '--steps', '1', '--yes')
    expect(down.code).toBe(2)
    expect(down.stdout + down.stderr).toContain('migrations/0002_drop_stars.ts has no down()')
  })
})
