import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { adminPool, describeWithServer, PASSWORD, randomSchema } from './pg-test-helpers.ts'

// The `flux` command on a project with a pg store and .sql migrations. The project sits inside
// this package so that its config resolves `@flux/pg` and `@flux/core` like an installed app.
const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../../../apps/cli/bin/flux.js')
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

async function sqlProject(schema: string, migrations: Record<string, string>): Promise<string> {
  await mkdir(join(here, '../.flux-tmp'), { recursive: true })
  const dir = await mkdtemp(join(here, '../.flux-tmp/cli-'))
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

function flux(dir: string, url: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [fluxBin, ...args], {
    cwd: dir,
    env: { ...process.env, CATALOG_URL: url },
    encoding: 'utf8',
  })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, all: result.stdout + result.stderr }
}

const HOTELS = `-- flux:store catalog
-- flux:up
create table hotel (id serial primary key, name text not null);
insert into hotel (name) values ('Alfama; the "old" quarter -- by the river');
create function hotel_count() returns bigint language sql as $body$ select count(*) from hotel; $body$;
-- flux:down
drop function hotel_count();
drop table hotel;
`

const BROKEN = `-- flux:store catalog
-- flux:up
insert into hotel (name) values ('Gion');
insert into hotel (nam) values ('Centro');
`

describeWithServer('flux on a pg store with .sql migrations', (url) => {
  it('plans the SQL for review, applies it, and reports a failing statement by file and line', async () => {
    const schema = randomSchema()
    cleanups.push(() => adminPool(url).query(`drop schema if exists "${schema}" cascade`))
    await adminPool(url).query(`create schema "${schema}"`)
    const dir = await sqlProject(schema, { '001_hotels.sql': HOTELS })
    const connected = `${url}?options=-c%20search_path%3D${schema}`

    const plan = flux(dir, connected, 'plan', '--sql')
    expect(plan.code, plan.stderr).toBe(0)
    expect(plan.stdout).toContain('-- app/001_hotels (migrations/001_hotels.sql) on store "catalog"')
    expect(plan.stdout).toContain('insert into hotel (name) values (\'Alfama; the "old" quarter -- by the river\');')
    expect(plan.stdout).toContain('$body$ select count(*) from hotel; $body$;')

    const up = flux(dir, connected, 'up')
    expect(up.code, up.stderr).toBe(0)
    expect((await adminPool(url).query(`select name from "${schema}".hotel`)).rows).toEqual([
      { name: 'Alfama; the "old" quarter -- by the river' },
    ])
    expect(
      (await adminPool(url).query(`select count(*)::int as n from pg_proc where proname = 'hotel_count'`)).rows[0].n,
    ).toBeGreaterThan(0)

    await writeFile(join(dir, 'migrations', '002_broken.sql'), BROKEN)
    const failed = flux(dir, connected, 'up')
    expect(failed.code).toBe(1)
    expect(failed.stderr).toContain('migrations/002_broken.sql:4:')
    expect(failed.stderr).toContain('column "nam" of relation "hotel" does not exist')
    // nothing of the failed migration stays: its first insert rolled back with it
    expect((await adminPool(url).query(`select count(*)::int as n from "${schema}".hotel`)).rows[0].n).toBe(1)
    const status = JSON.parse(flux(dir, connected, 'status', '--json').stdout)
    expect(status.migrations.map((row: { id: string; status: string }) => [row.id, row.status])).toEqual([
      ['app/001_hotels', 'applied'],
      ['app/002_broken', 'pending'],
    ])
    for (const output of [plan.all, up.all, failed.all, JSON.stringify(status)]) expect(output).not.toContain(PASSWORD)
  })

  it('a file that does not parse stops `up` before anything runs, and the stores connected meanwhile are closed', async () => {
    const schema = randomSchema()
    // the stores connect while the files load: the process must still end, and change nothing
    const dir = await sqlProject(schema, {
      '0001_hotels.sql': HOTELS,
      '0002_bad.sql': "-- flux:store catalog\n-- flux:up\nselect 'unterminated;\n",
    })
    const started = performance.now()
    const result = flux(dir, url, 'up')
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('migrations/0002_bad.sql')
    expect(performance.now() - started).toBeLessThan(20_000)
    const { rows } = await adminPool(url).query('select to_regnamespace($1) as found', [schema])
    expect(rows).toEqual([{ found: null }])
    // and one whose store is down reports the file, not the store
    const down = flux(dir, 'postgres://flux@127.0.0.1:1/nowhere', 'up')
    expect(down.code).toBe(2)
    expect(down.stderr).toContain('migrations/0002_bad.sql')
  })

  it('never prints the password, also when it is wrong or the server is down', async () => {
    const dir = await sqlProject('public', { '001_hotels.sql': HOTELS })
    const wrong = url.replace(PASSWORD, `${PASSWORD}-wrong`)
    const down = url.replace(/:\d+\//, ':1/')
    for (const target of [wrong, down]) {
      for (const args of [['status'], ['status', '--json'], ['up', '--json'], ['plan', '--sql'], ['up', '--debug']]) {
        const result = flux(dir, target, ...args)
        expect(result.code, `${args.join(' ')}: ${result.all}`).toBe(1)
        expect(result.all).toContain('store "catalog"')
        expect(result.all).not.toContain(PASSWORD)
      }
    }
  })
})
