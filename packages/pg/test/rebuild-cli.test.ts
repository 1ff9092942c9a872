import { type ChildProcess, spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { afterEach, expect, it } from 'vitest'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

// `flux up` of a rebuildMigration killed with SIGKILL in the middle of its copy, then run again:
// it goes on from its last checkpoint. The project sits inside this package so that its files
// resolve `@flux/pg` and `@flux/core` like an installed app's (build them first).
const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../../../apps/cli/bin/flux.js')
const ROWS = 20_000
const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup()
})

const MIGRATION = `import { rebuildMigration } from '@flux/pg'
export default rebuildMigration({
  store: 'catalog',
  table: 'hotel',
  change: (schema) => [schema.alterColumn('hotel', 'id', { type: 'bigint' })],
  batchSize: 500,
  pauseMs: 40,
})
`

function run(
  dir: string,
  url: string,
  args: string[],
): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, [fluxBin, ...args], {
    cwd: dir,
    env: { ...process.env, CATALOG_URL: url, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => {
    output += chunk
  })
  child.stderr!.on('data', (chunk) => {
    output += chunk
  })
  const done = new Promise<{ code: number | null; output: string }>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
  })
  return { child, done }
}

describeWithServer('flux up of a rebuildMigration, killed mid-copy', (url) => {
  it('resumes after SIGKILL from its last checkpoint, keeps the writes made meanwhile, and swaps', async () => {
    const pool = adminPool(url)
    const schema = randomSchema()
    cleanups.push(() => pool.query(`drop schema if exists "${schema}" cascade`))
    await pool.query(`create schema "${schema}"`)
    await pool.query(`create table "${schema}".hotel (id integer primary key, name text not null)`)
    await pool.query(`insert into "${schema}".hotel select g, 'hotel ' || g from generate_series(1, ${ROWS}) g`)
    await mkdir(join(here, '../.flux-tmp'), { recursive: true })
    const dir = await mkdtemp(join(here, '../.flux-tmp/rebuild-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { catalog: pgStore({ url: process.env.CATALOG_URL, schema: '${schema}' }) } })
`,
    )
    await mkdir(join(dir, 'migrations'))
    await writeFile(join(dir, 'migrations', '001_rebuild.ts'), MIGRATION)
    const connected = `${url}?options=-c%20search_path%3D${schema}`

    const plan = await run(dir, connected, ['plan', '--sql']).done
    expect(plan.code, plan.output).toBe(0)
    expect(plan.output).toContain('-- rebuildTable hotel: a move-and-copy, run outside a transaction')
    expect(plan.output).toContain('--      alter table "hotel__flux_new" alter column "id" type bigint')
    expect(plan.output).toContain('-- hotel__flux_old is kept: drop it in a later migration')
    // what plan --sql shows is comments: lint finds nothing to warn about in it
    const lint = await run(dir, connected, ['lint']).done
    expect(lint.code, lint.output).toBe(0)
    expect(lint.output).toContain('no findings in 1 migration')

    const checkpoint = async () =>
      (
        await pool
          .query(`select checkpoint from "${schema}".flux_ledger where id = 'app/001_rebuild'`)
          // the run makes its ledger when it starts
          .catch(() => ({ rows: [] }))
      ).rows[0]?.checkpoint as { table: number; copy?: { after: number; read: number } } | undefined
    const first = run(dir, connected, ['up'])
    const deadline = Date.now() + 20_000
    while (((await checkpoint())?.copy?.read ?? 0) < 4_000) {
      if (Date.now() > deadline) throw new Error('the copy saved no checkpoint past 4,000 rows in 20 s')
      await sleep(10)
    }
    first.child.kill('SIGKILL')
    const killed = await first.done
    expect(killed.output).not.toContain('swapped')
    const saved = (await checkpoint())!
    expect(saved.copy!.read).toBeLessThan(ROWS)
    expect(saved.copy!.after).toBe(saved.copy!.read)

    // the trigger outlived the run: writes between the runs reach the new table
    await pool.query(`update "${schema}".hotel set name = 'changed' where id = 1`)
    await pool.query(`delete from "${schema}".hotel where id = 2`)
    await pool.query(`insert into "${schema}".hotel values (${ROWS + 1}, 'late')`)

    const again = await run(dir, connected, ['up']).done
    expect(again.code, again.output).toBe(0)
    // rows up to the checkpoint are not read again: only those after it, the late one among them
    expect(again.output).toContain(`rebuildTable ${schema}.hotel: resuming`)
    expect(again.output).toContain(`${ROWS - saved.copy!.read + 1} rows copied in this run`)

    const { rows: type } = await pool.query(
      `select data_type from information_schema.columns where table_schema = $1 and table_name = 'hotel' and column_name = 'id'`,
      [schema],
    )
    expect(type).toEqual([{ data_type: 'bigint' }])
    const sum = async (table: string) =>
      (
        await pool.query(
          `select count(*)::int as count, md5(string_agg(id || ':' || name, ',' order by id)) as sum from "${schema}".${table}`,
        )
      ).rows[0]
    const rebuilt = await sum('hotel')
    expect(rebuilt.count).toBe(ROWS)
    expect(rebuilt).toEqual(await sum('hotel__flux_old'))
    expect((await pool.query(`select name from "${schema}".hotel where id in (1, 2) order by id`)).rows).toEqual([
      { name: 'changed' },
    ])
    const status = await run(dir, connected, ['status', '--json']).done
    expect(JSON.parse(status.output).migrations).toMatchObject([{ id: 'app/001_rebuild', status: 'applied' }])
  })
})
