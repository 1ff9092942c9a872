// A fleet of tenants (`pnpm build`, `scripts/services start`, `eval "$(scripts/services env)"`,
// then `pnpm bench:fleet`) on the project's PostgreSQL, in two layouts: 500 schemas in one
// database (FLUX_BENCH_MEMBERS), and 200 databases (FLUX_BENCH_DATABASES; 0 skips them), a
// connection of its own per member for flux and the floor alike; the databases twice, with each
// member's lease on a session of its own (the default, `lock: 'advisory'`) and with `lock: 'table'`. 20 one-statement `.sql`
// migrations each (FLUX_BENCH_MIGRATIONS), applied by
// - `flux up` (one runner, its default concurrency: 4 members at once),
// - 4 `flux up` processes started together over the same fleet (the time until the last ends),
//   each with `--concurrency 1` (4 members at once in all, as the one runner: what sharing a fleet
//   costs, as on 4 machines) and with the default 4 (16 at once on one machine); the fleet keeps
//   its board in a schema of the test database, so a member one runner confirmed is not visited
//   by the others,
// - the floor: a script with the bare `pg` driver doing the same SQL in each tenant, 4 tenants at
//   once, one connection each, one transaction per migration with its ledger row, and nothing
//   else (no lease, no checksums, no plan).
// Printed per layout: the medians of 3 runs (FLUX_BENCH_RUNS), the ratios "flux / floor" (target
// ≤ 1.3×) and "4 runners / 1 runner" (target ≤ 1, at the same concurrency in all), and the
// machine's load. Each figure is a whole process (or four), spawned, on schemas of its own (in
// the databases, made once and dropped at the end), dropped after the run; the scenarios take
// turns going first. The projects live in the system's temporary folder and import flux and its
// adapters through a link to apps/cli's node_modules.
//
// The members' tables go to a tablespace in memory (/dev/shm) when the bench can make one (a
// superuser, and a process that may hand a folder to the server's system user: root here). A run
// makes and drops thousands of tables, each a few files: on this machine's disk (ext4 mounted with
// `discard`) those file operations stalled PostgreSQL for seconds at a time, and the same run took
// 8 s in one minute and 30 s a few minutes later, whichever side it measured. What is measured is
// flux against the floor on the same server; the disk's pauses are not part of either.
// FLUX_BENCH_TABLESPACE=disk keeps the tables where the server keeps them.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { chownSync, readFileSync, statfsSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../apps/cli/bin/flux.js')
const modules = join(here, '../apps/cli/node_modules')
const pgPath = createRequire(import.meta.url).resolve('pg')
const SCHEMAS = Number(process.env.FLUX_BENCH_MEMBERS ?? 500)
const DATABASES = Number(process.env.FLUX_BENCH_DATABASES ?? 200)
const MIGRATIONS = Number(process.env.FLUX_BENCH_MIGRATIONS ?? 20)
const RUNS = Number(process.env.FLUX_BENCH_RUNS ?? 3)
const CONCURRENCY = 4
const RUNNERS = 4

const url = process.env.FLUX_TEST_PG_URL
if (!url) {
  console.error('FLUX_TEST_PG_URL is not set: run `eval "$(scripts/services env)"` first (scripts/services start)')
  process.exit(2)
}

const literal = (value: string) => JSON.stringify(value)
const pad = (index: number, width: number) => String(index).padStart(width, '0')
/** Migration `index`'s one statement, the same for flux and the floor. */
const statementOf = (index: number) => `create table t${pad(index, 2)} (id int primary key, value text)`

/**
 * Where the members are: schemas `<prefix>_<n>` in the test database, or a schema `<prefix>` in
 * each database `<DATABASE_PREFIX>_<n>`.
 */
interface Layout {
  name: string
  members: number
  /** The config's expression for member `tenant`'s connection string, and its schema (with `prefix` in scope). */
  url: string
  schema: string
  /** More of pgStore()'s options for each member, as config text. */
  options?: string
}

const DATABASE_PREFIX = 'bfleetdb'
/** A database's connection string, as the config and the floor compute it. */
const DATABASE_URL_OF = `(tenant) => { const at = new URL(process.env.FLUX_TEST_PG_URL); at.pathname = '/${DATABASE_PREFIX}_' + tenant; return at.href }`
const LAYOUTS: Layout[] = [
  {
    name: `${SCHEMAS} schemas in one database`,
    members: SCHEMAS,
    url: 'process.env.FLUX_TEST_PG_URL',
    schema: 'prefix + "_" + tenant',
  },
  {
    name: `${DATABASES} databases`,
    members: DATABASES,
    url: `(${DATABASE_URL_OF})(tenant)`,
    schema: 'prefix',
  },
  // the lease as a row of the lock table: no session of its own, so one sign-in per member, not two
  {
    name: `${DATABASES} databases, lock: 'table'`,
    members: DATABASES,
    url: `(${DATABASE_URL_OF})(tenant)`,
    schema: 'prefix',
    options: "lock: 'table'",
  },
].filter((layout) => layout.members > 0)

/** Where the runners of one scenario keep the fleet's board: a schema of the test database. */
const boardSchema = (prefix: string) => `board_${prefix}`

/** A project whose fleet `tenants` has the layout's members, listed in members.txt, and its board. */
async function writeProject(prefix: string, layout: Layout): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-bench-fleet-'))
  await symlink(modules, join(dir, 'node_modules'), 'dir')
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`)
  const members = Array.from({ length: layout.members }, (_, index) => pad(index, 4))
  await writeFile(join(dir, 'members.txt'), `${members.join('\n')}\n`)
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { readFileSync } from 'node:fs'
import { defineConfig, fleet } from '@flux/core'
import { pgStore } from '@flux/pg'

const prefix = ${literal(prefix)}
export default defineConfig({
  stores: {
    board: pgStore({ url: process.env.FLUX_TEST_PG_URL, schema: ${literal(boardSchema(prefix))} }),
    tenants: fleet({
      members: () => readFileSync('members.txt', 'utf8').split('\\n').filter(Boolean),
      store: (tenant) => pgStore({ url: ${layout.url}, schema: ${layout.schema}, searchPath: ${layout.schema}${layout.options ? `, ${layout.options}` : ''} }),
      board: 'board',
    }),
  },
})
`,
  )
  await mkdir(join(dir, 'migrations'))
  for (let index = 1; index <= MIGRATIONS; index++) {
    await writeFile(
      join(dir, 'migrations', `${pad(index, 4)}_t${pad(index, 2)}.sql`),
      `-- flux:store tenants\n-- flux:up\n${statementOf(index)};\n`,
    )
  }
  // the floor: the same statements, CONCURRENCY tenants at once, a transaction and a ledger row
  // per migration; one connection per worker for schemas, one per member for databases
  const perMember = layout.url !== 'process.env.FLUX_TEST_PG_URL'
  await writeFile(
    join(dir, 'floor.mjs'),
    `import { readFileSync } from 'node:fs'
import pg from ${literal(pgPath)}
const members = readFileSync('members.txt', 'utf8').split('\\n').filter(Boolean)
const statements = ${JSON.stringify(Array.from({ length: MIGRATIONS }, (_, index) => statementOf(index + 1)))}
const prefix = ${literal(prefix)}
let next = 0
async function worker() {
  let client
  if (!${perMember}) {
    client = new pg.Client({ connectionString: process.env.FLUX_TEST_PG_URL })
    await client.connect()
  }
  while (next < members.length) {
    const tenant = members[next++]
    if (${perMember}) {
      await client?.end()
      client = new pg.Client({ connectionString: ${perMember ? `(${DATABASE_URL_OF})(tenant)` : 'undefined'} })
      await client.connect()
    }
    const schema = ${layout.schema}
    await client.query('create schema if not exists "' + schema + '"')
    await client.query('set search_path to "' + schema + '"')
    await client.query('create table if not exists ledger (id text primary key, applied_at timestamptz not null)')
    const applied = new Set((await client.query('select id from ledger')).rows.map((row) => row.id))
    for (const [index, statement] of statements.entries()) {
      const id = 'm' + index
      if (applied.has(id)) continue
      await client.query('begin')
      await client.query(statement)
      await client.query('insert into ledger (id, applied_at) values ($1, now())', [id])
      await client.query('commit')
    }
  }
  await client?.end()
}
await Promise.all(Array.from({ length: ${CONCURRENCY} }, worker))
`,
  )
  return dir
}

/** A connection string to `database` on the test server. */
function databaseUrl(database: string): string {
  const at = new URL(url!)
  at.pathname = `/${database}`
  return at.href
}

/**
 * `body` on a connection to each database the layout's members live in, with the run's schemas
 * there (`prefix_<n>` in the test database, or `prefix` in each member's database).
 */
async function eachPlace(
  layout: Layout,
  prefix: string,
  body: (client: pg.Client, schemas: string[]) => Promise<void>,
): Promise<void> {
  const places =
    layout.url === 'process.env.FLUX_TEST_PG_URL'
      ? [{ url: url!, like: `${prefix}\\_%` }]
      : Array.from({ length: layout.members }, (_, index) => ({
          url: databaseUrl(`${DATABASE_PREFIX}_${pad(index, 4)}`),
          like: prefix,
        }))
  for (const place of places) {
    const client = new pg.Client({ connectionString: place.url })
    await client.connect()
    try {
      const { rows } = await client.query<{ nspname: string }>(
        `select nspname from pg_namespace where nspname like $1`,
        [place.like],
      )
      await body(
        client,
        rows.map((row) => row.nspname),
      )
    } finally {
      await client.end()
    }
  }
}

/** The catalogs that making and dropping tables grows. */
const CATALOGS = ['pg_class', 'pg_attribute', 'pg_type', 'pg_depend', 'pg_index', 'pg_constraint', 'pg_namespace']

/** `body` on a connection of its own to the test database, ended after it. */
async function onTestDatabase<T>(body: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await body(client)
  } finally {
    await client.end()
  }
}

async function clean(dir: string, prefix: string, layout: Layout): Promise<void> {
  await eachPlace(layout, prefix, async (client, schemas) => {
    // a few schemas per statement: one transaction for all would take a lock per table at once
    for (let start = 0; start < schemas.length; start += 20) {
      const names = schemas.slice(start, start + 20).map((name) => `"${name}"`)
      await client.query(`drop schema if exists ${names.join(', ')} cascade`)
    }
    // the dropped tables' catalog rows made reusable, so that the scenario that runs next does not
    // pay for the ones before it (autovacuum comes too late: a run makes and drops 10,000 tables)
    await client.query(`vacuum ${CATALOGS.join(', ')}`)
  })
  await onTestDatabase((client) => client.query(`drop schema if exists "${boardSchema(prefix)}" cascade`))
  await rm(dir, { recursive: true, force: true })
}

/** Members whose ledger holds every migration: a run that left one out is not a result. */
async function membersAtHead(prefix: string, ledger: string, layout: Layout): Promise<number> {
  let complete = 0
  await eachPlace(layout, prefix, async (client, schemas) => {
    for (const schema of schemas) {
      const counted = await client.query<{ n: string }>(`select count(*) as n from "${schema}".${ledger}`)
      if (Number(counted.rows[0]!.n) === MIGRATIONS) complete += 1
    }
  })
  return complete
}

/** tmpfs's magic number in statfs(2). */
const TMPFS = 0x01021994

interface Tablespace {
  name: string
  dir: string
  database: string
}

/**
 * A tablespace in a folder of /dev/shm, made the test database's default for new sessions, or
 * why there is none. Needs a superuser, a tmpfs at /dev/shm, and a process that may give the
 * folder to the server's system user (the owner of its data directory).
 */
async function memoryTablespace(): Promise<Tablespace | string> {
  if (process.env.FLUX_BENCH_TABLESPACE === 'disk') return 'FLUX_BENCH_TABLESPACE=disk'
  try {
    if (statfsSync('/dev/shm').type !== TMPFS) return '/dev/shm is not a tmpfs'
  } catch {
    return 'this machine has no /dev/shm'
  }
  let dir: string | undefined
  try {
    return await onTestDatabase(async (client) => {
      const { rows } = await client.query<{ superuser: boolean; database: string }>(
        'select rolsuper as superuser, current_database() as database from pg_roles where rolname = current_user',
      )
      if (!rows[0]?.superuser) return 'the test role is not a superuser'
      const { data_directory: dataDirectory } = (await client.query<{ data_directory: string }>('show data_directory'))
        .rows[0]!
      const owner = statSync(dataDirectory)
      dir = await mkdtemp('/dev/shm/flux-bench-')
      chownSync(dir, owner.uid, owner.gid)
      const name = `flux_bench_${randomBytes(4).toString('hex')}`
      await client.query(`create tablespace ${name} location '${dir}'`)
      await client.query(`alter database "${rows[0].database}" set default_tablespace = ${name}`)
      return { name, dir, database: rows[0].database }
    })
  } catch (error) {
    if (dir) await rm(dir, { recursive: true, force: true })
    return `could not make one: ${(error as Error).message}`
  }
}

/** The test database's default tablespace back, the tablespace dropped (it is empty by then), its folder removed. */
async function dropTablespace(tablespace: Tablespace): Promise<void> {
  try {
    await onTestDatabase(async (client) => {
      await client.query(`alter database "${tablespace.database}" reset default_tablespace`)
      await client.query(`drop tablespace if exists ${tablespace.name}`)
    })
    await rm(tablespace.dir, { recursive: true, force: true })
  } catch (error) {
    console.error(`could not drop the tablespace ${tablespace.name} (${tablespace.dir}): ${(error as Error).message}`)
  }
}

/** Makes the databases of the database layout that are missing (kept across runs, dropped at the end). */
async function makeDatabases(count: number): Promise<void> {
  await onTestDatabase(async (client) => {
    const { rows } = await client.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [
      `${DATABASE_PREFIX}\\_%`,
    ])
    const existing = new Set(rows.map((row) => row.datname))
    for (let index = 0; index < count; index++) {
      const name = `${DATABASE_PREFIX}_${pad(index, 4)}`
      if (existing.has(name)) continue
      await client.query(`create database "${name}"${tablespace ? ` tablespace ${tablespace.name}` : ''}`)
    }
  })
}

async function dropDatabases(): Promise<void> {
  await onTestDatabase(async (client) => {
    const { rows } = await client.query<{ datname: string }>(`select datname from pg_database where datname like $1`, [
      `${DATABASE_PREFIX}\\_%`,
    ])
    for (const { datname } of rows) await client.query(`drop database if exists "${datname}"`)
  })
}

/** CPU time of the whole machine (all cores, in clock ticks): busy and in total, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((sum, value) => sum + value, 0)
  return { busy: total - fields[3]! - (fields[4] ?? 0), total }
}

function run(args: string[], dir: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, args, {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

interface Scenario {
  name: string
  /** The processes started together, each an argument list for node. */
  processes: string[][]
  ledger: string
}

const scenarios: Scenario[] = [
  { name: `floor (bare pg, ${CONCURRENCY} tenants at once)`, processes: [['floor.mjs']], ledger: 'ledger' },
  { name: `flux up, 1 runner (concurrency ${CONCURRENCY})`, processes: [[fluxBin, 'up']], ledger: 'flux_ledger' },
  {
    name: `flux up, ${RUNNERS} runners × concurrency 1`,
    processes: Array.from({ length: RUNNERS }, () => [fluxBin, 'up', '--concurrency', '1']),
    ledger: 'flux_ledger',
  },
  {
    name: `flux up, ${RUNNERS} runners × concurrency ${CONCURRENCY}`,
    processes: Array.from({ length: RUNNERS }, () => [fluxBin, 'up']),
    ledger: 'flux_ledger',
  },
]

interface Figures {
  times: number[]
  busy: number[]
}

async function timeRun(scenario: Scenario, layout: Layout, figures: Figures): Promise<void> {
  const prefix = `bfleet_${randomBytes(4).toString('hex')}`
  const dir = await writeProject(prefix, layout)
  try {
    const ticks = machineTicks()
    const started = performance.now()
    const results = await Promise.all(scenario.processes.map((args) => run(args, dir)))
    const seconds = (performance.now() - started) / 1000
    const after = machineTicks()
    for (const result of results) {
      if (result.code !== 0) throw new Error(`${scenario.name} failed (${result.code}): ${result.stderr.slice(-600)}`)
    }
    const complete = await membersAtHead(prefix, scenario.ledger, layout)
    if (complete !== layout.members) {
      throw new Error(`${scenario.name}: ${complete} of ${layout.members} members at head`)
    }
    figures.times.push(seconds)
    figures.busy.push((after.busy - ticks.busy) / (after.total - ticks.total))
  } finally {
    await clean(dir, prefix, layout)
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

console.log(
  `a fleet of pg tenants × ${MIGRATIONS} one-statement migrations each; median of ${RUNS} runs; seconds per whole run; ${cpus().length} cpus, load average ${loadavg()[0]!.toFixed(2)} at the start`,
)
// databases left by a run that was stopped may be on the disk: made anew in the tablespace
if (DATABASES > 0) await dropDatabases()
const made = await memoryTablespace()
const tablespace = typeof made === 'string' ? undefined : made
console.log(
  tablespace
    ? `tables in the tablespace ${tablespace.name} (${tablespace.dir}, in memory): the disk's pauses left out`
    : `tables on the server's disk (no tablespace in memory: ${made}): the disk's pauses show in the figures`,
)
try {
  for (const layout of LAYOUTS) {
    if (layout.url !== 'process.env.FLUX_TEST_PG_URL') await makeDatabases(layout.members)
    const figures = new Map<string, Figures>(scenarios.map((scenario) => [scenario.name, { times: [], busy: [] }]))
    for (let round = 0; round < RUNS; round++) {
      // each scenario goes first in turn
      for (let index = 0; index < scenarios.length; index++) {
        const scenario = scenarios[(index + round) % scenarios.length]!
        await timeRun(scenario, layout, figures.get(scenario.name)!)
      }
    }
    console.log(`${layout.name} (${layout.members * MIGRATIONS} migrations in all):`)
    for (const scenario of scenarios) {
      const { times, busy } = figures.get(scenario.name)!
      const seconds = median(times)
      console.log(
        `  ${scenario.name.padEnd(40)} ${seconds.toFixed(2)} s  (runs: ${times.map((value) => value.toFixed(2)).join(', ')}); ${((layout.members * MIGRATIONS) / seconds).toFixed(0)} migrations/s; cores busy ${(median(busy) * 100).toFixed(0)}%`,
      )
    }
    const [floor, one, shared, many] = scenarios.map((scenario) => median(figures.get(scenario.name)!.times))
    console.log(`  flux up / floor: ${(one! / floor!).toFixed(2)}× (target ≤ 1.3×)`)
    console.log(
      `  ${RUNNERS} runners / 1 runner, the same ${CONCURRENCY} members at once in all: ${(shared! / one!).toFixed(2)}× (target ≤ 1×)`,
    )
    console.log(
      `  ${RUNNERS} runners / 1 runner, each runner ${CONCURRENCY} at once (${RUNNERS * CONCURRENCY} in all on this machine's ${cpus().length} cores): ${(many! / one!).toFixed(2)}×`,
    )
    console.log(`  load average ${loadavg()[0]!.toFixed(2)} now`)
  }
} finally {
  if (DATABASES > 0) await dropDatabases()
  if (tablespace) await dropTablespace(tablespace)
}
console.log('other work on this machine shows in the figures.')
console.log(
  "cores busy: the share of all the machine's cores (flux, PostgreSQL and anything else) in use during the run; near 100%, the run is bound by this machine's CPU, not by waiting.",
)
