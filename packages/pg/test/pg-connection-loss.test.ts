import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { migrate } from '@flux/core'
import { type TcpProxy, tcpProxy } from '@flux/core/testing'
import pg from 'pg'
import { afterEach, expect, it } from 'vitest'
import { pgStore } from '../src/index.ts'
import { testProject } from './pg-project.ts'
import { adminPool, describeWithServer, PASSWORD, randomSchema } from './pg-test-helpers.ts'

// A connection to PostgreSQL that breaks (the server restarts, a proxy or a network cuts it)
// ends a run with flux's own error naming the store, never a crash; what committed stays
// recorded with its effects, and the next run applies the rest exactly once. And the frozen
// runner of issue 14: thawed after another runner took its lease over, it commits nothing.

const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../../../apps/cli/bin/flux.js')

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** Migrations `0001_m01` … that each record their effect (`m01`), then take `sleepSeconds`. */
const slowMigrations = (schema: string, count: number, sleepSeconds: number) =>
  Array.from({ length: count }, (_, offset) => {
    const effect = `m${String(offset + 1).padStart(2, '0')}`
    return {
      name: `00${effect.slice(1)}_${effect}`,
      sql: `-- flux:store catalog\n-- flux:up\ninsert into "${schema}".effect values ('${effect}');\nselect pg_sleep(${sleepSeconds});\n`,
    }
  })

/** The id of the migration whose effect is `effect`. */
const migrationOf = (effect: string) => `app/00${effect.slice(1)}_${effect}`

/**
 * `url` for sessions that notice within 50 ms when their client is gone, and then stop: without
 * it, PostgreSQL runs the script it was sent to its end (committing every migration in it), and
 * notices only when it sends the results.
 */
const checkingClient = (url: string) => `${url}?options=${encodeURIComponent('-c client_connection_check_interval=50')}`

/** The store, by its name in the config or by its target (`describe()`). */
const NAMES_THE_STORE = /store "catalog"|pg 127\.0\.0\.1:\d+\/flux_test/

/** What a raw crash of Node looks like on stderr. */
const RAW_CRASH = /Unhandled 'error' event|node:events|node:internal|^\s+at /m

describeWithServer('a connection to PostgreSQL that breaks', (url) => {
  const server = new URL(url)
  const admin = adminPool(url)

  const setup = async () => {
    const schema = randomSchema()
    await admin.query(`create schema "${schema}"; create table "${schema}".effect (id text not null)`)
    const proxy = await tcpProxy({ host: server.hostname, port: Number(server.port) })
    cleanups.push(() => admin.query(`drop schema if exists "${schema}" cascade`))
    cleanups.push(() => proxy.close())
    return { schema, proxy }
  }
  const effects = async (schema: string) =>
    (await admin.query(`select id from "${schema}".effect order by id`)).rows.map((row) => row.id as string)
  const ledger = async (schema: string) =>
    (
      await admin.query(
        `select id, status from "${schema}".flux_ledger where to_regclass('"${schema}".flux_ledger') is not null order by id`,
      )
    ).rows.map((row) => `${row.id}:${row.status}`)
  /** Polls until something holds, failing after a deadline. */
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
      await sleep(20)
    }
  }
  /** Until the server has ended the sessions that came through the proxy so far (it may finish a script first). */
  const sessionsGone = (proxy: TcpProxy) => {
    const ports = [...proxy.upstreamPorts]
    return until('the sessions through the proxy to end', async () => {
      const { rows } = await admin.query('select 1 from pg_stat_activity where client_port = any($1::int[])', [ports])
      return rows.length === 0
    })
  }
  /** Ledger and effects agree: each migration's effect is there exactly when it is recorded, never twice. */
  const expectNothingHalfApplied = async (schema: string) => {
    const done = await effects(schema)
    expect(new Set(done).size).toBe(done.length)
    expect(await ledger(schema)).toEqual(done.map((effect) => `${migrationOf(effect)}:applied`))
    return done
  }

  it('migrate() fails with STORE_UNAVAILABLE naming the store; what committed is recorded, the next run applies the rest once', async () => {
    const { schema, proxy } = await setup()
    const migrations = slowMigrations(schema, 8, 0.15)
    const store = () => pgStore({ url: checkingClient(proxy.url(url)), schema })
    const running = migrate(testProject({ catalog: store() }, migrations), { direction: 'up' })
    await until('the first migration to commit', async () => (await effects(schema)).length > 0)
    proxy.cut({ refuse: true })
    const report = await running
    expect(report.error?.code).toBe('STORE_UNAVAILABLE')
    expect(report.error?.store).toBe('catalog')
    expect(report.error?.message).toContain(`pg 127.0.0.1:${new URL(proxy.url(url)).port}/`)
    expect(report.error?.message).toContain('lost the connection')
    expect(report.error?.message).not.toContain(PASSWORD)
    await sessionsGone(proxy)
    const done = await expectNothingHalfApplied(schema)
    expect(done.length).toBeLessThan(8)
    // what the run reported applied, committed
    const reported = report.steps.filter((step) => step.status === 'applied').map((step) => step.id)
    expect(done.map(migrationOf)).toEqual(expect.arrayContaining(reported))

    proxy.restore()
    const again = await migrate(testProject({ catalog: store() }, migrations), { direction: 'up' })
    expect(again.error).toBeUndefined()
    expect(await expectNothingHalfApplied(schema)).toEqual(['m01', 'm02', 'm03', 'm04', 'm05', 'm06', 'm07', 'm08'])
  })

  it('your own pool: an idle connection that breaks while the store is open ends nothing; flux stops listening at close()', async () => {
    const { schema, proxy } = await setup()
    const pool = new pg.Pool({ connectionString: proxy.url(url) })
    cleanups.push(() => pool.end())
    const adapter = pgStore({ pool, schema })
    await adapter.open()
    expect(pool.listenerCount('error')).toBe(1)
    expect(await adapter.ledger.read()).toEqual([])
    expect(pool.idleCount).toBe(1)
    proxy.cut()
    // the pool emits 'error' (only flux listens) and drops the connection
    await until('the pool to drop the broken connection', async () => pool.totalCount === 0)
    // the next read connects anew
    expect(await adapter.ledger.read()).toEqual([])
    await adapter.close()
    expect(pool.listenerCount('error')).toBe(0)

    // a pool that listens itself is left as it is
    const listener = () => {}
    pool.on('error', listener)
    const again = pgStore({ pool, schema })
    await again.open()
    expect(pool.listeners('error')).toEqual([listener])
    await again.close()
  })

  /** A project in this package (so its config resolves @flux/pg's dist, as an installed app's does). */
  const project = async (schema: string, files: Record<string, string>, ttlMs?: number) => {
    await mkdir(join(here, '../.flux-tmp'), { recursive: true })
    const dir = await mkdtemp(join(here, '../.flux-tmp/loss-'))
    cleanups.push(() => rm(dir, { recursive: true, force: true }))
    const lease = ttlMs === undefined ? '' : `, lease: { ttlMs: ${ttlMs}, waitMs: 20_000 }`
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: { catalog: pgStore({ url: process.env.CATALOG_URL, schema: '${schema}' }) }${lease} })
`,
    )
    await mkdir(join(dir, 'migrations'))
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, 'migrations', name), text)
    return dir
  }
  const start = (dir: string, databaseUrl: string, ...args: string[]) => {
    const child = spawn(process.execPath, [fluxBin, ...args], {
      cwd: dir,
      env: { ...process.env, CATALOG_URL: databaseUrl, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGCONT')
        child.kill('SIGKILL')
      }
    })
    return child
  }
  const finish = (child: ChildProcess) => {
    let output = ''
    child.stdout!.on('data', (chunk) => {
      output += chunk
    })
    child.stderr!.on('data', (chunk) => {
      output += chunk
    })
    return new Promise<{ code: number | null; output: string }>((resolve) => {
      child.on('close', (code) => resolve({ code, output }))
    })
  }
  const flux = (dir: string, databaseUrl: string, ...args: string[]) => finish(start(dir, databaseUrl, ...args))
  const sqlFiles = (schema: string, count: number, sleepSeconds: number) =>
    Object.fromEntries(
      slowMigrations(schema, count, sleepSeconds).map((migration) => [`${migration.name}.sql`, migration.sql]),
    )

  it('`flux up` exits 1 naming the store, without a raw stack; `status` shows what committed; `up` applies the rest once', async () => {
    const { schema, proxy } = await setup()
    const dir = await project(schema, sqlFiles(schema, 8, 0.15))
    const through = checkingClient(proxy.url(url))
    const running = finish(start(dir, through, 'up'))
    await until('the first migration to commit', async () => (await effects(schema)).length > 0)
    proxy.cut({ refuse: true })
    const failed = await running
    expect(failed.code, failed.output).toBe(1)
    expect(failed.output).toContain('store "catalog"')
    expect(failed.output).toContain('lost the connection')
    expect(failed.output).not.toMatch(RAW_CRASH)
    expect(failed.output).not.toContain(PASSWORD)
    await sessionsGone(proxy)
    const done = await expectNothingHalfApplied(schema)
    expect(done.length).toBeLessThan(8)

    proxy.restore()
    const status = await flux(dir, through, 'status', '--json')
    expect(status.code, status.output).toBe(0)
    const rows = JSON.parse(status.output).migrations as { id: string; status: string }[]
    expect(rows.filter((row) => row.status === 'applied').map((row) => row.id)).toEqual(done.map(migrationOf))
    const up = await flux(dir, through, 'up')
    expect(up.code, up.output).toBe(0)
    expect(await expectNothingHalfApplied(schema)).toHaveLength(8)
  })

  it('a cut while the lease session and the pool sit idle, mid-migration: exit 1 naming the store, no crash; `up` finishes', async () => {
    const { schema, proxy } = await setup()
    const dir = await project(schema, {
      '0001_m01.sql': slowMigrations(schema, 1, 0)[0]!.sql,
      // waits for the test before its first query: meanwhile flux's connections are idle
      '0002_m02.ts': `import { existsSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'catalog',
  async up({ store }) {
  writeFileSync(new URL('../started', import.meta.url), '')
  while (!existsSync(new URL('../go', import.meta.url))) await sleep(20)
  await store.query("insert into \\"${schema}\\".effect values ('m02')")
  },
})
`,
    })
    const through = proxy.url(url)
    const running = finish(start(dir, through, 'up'))
    await until('the second migration to start', async () => existsSync(join(dir, 'started')))
    proxy.cut()
    await sessionsGone(proxy)
    await writeFile(join(dir, 'go'), '')
    const failed = await running
    expect(failed.code, failed.output).toBe(1)
    expect(failed.output).toMatch(NAMES_THE_STORE)
    expect(failed.output).not.toMatch(RAW_CRASH)
    expect(await expectNothingHalfApplied(schema)).toEqual(['m01'])
    const up = await flux(dir, through, 'up')
    expect(up.code, up.output).toBe(0)
    expect(await expectNothingHalfApplied(schema)).toEqual(['m01', 'm02'])
  })

  it('issue 14: a runner frozen past its lease, thawed after another took over, commits nothing more; each migration runs once', async () => {
    const { schema } = await setup()
    // one script of 12 transactions, which the server runs on while its runner is frozen
    const dir = await project(schema, sqlFiles(schema, 12, 0.4), 1_000)
    const frozen = start(dir, url, 'up')
    const frozenDone = finish(frozen)
    await until('the first migration to commit', async () => (await effects(schema)).length > 0)
    frozen.kill('SIGSTOP')
    let next: { code: number | null; output: string }
    try {
      // it waits for the lease to expire, takes it over and ends the frozen runner's sessions
      next = await flux(dir, url, 'up')
    } finally {
      frozen.kill('SIGCONT')
    }
    expect(next.code, next.output).toBe(0)
    expect(next.output).toMatch(/[1-9]\d* applied/)
    const thawed = await frozenDone
    expect(thawed.code, thawed.output).toBe(1)
    expect(thawed.output).toContain("this runner's lease was taken over")
    expect(thawed.output).not.toMatch(RAW_CRASH)
    expect(await expectNothingHalfApplied(schema)).toHaveLength(12)
  })
})
