// flux against its peers on one PostgreSQL (`pnpm build`, `scripts/services start`,
// `eval "$(scripts/services env)"`, then `pnpm bench:pg`): node-pg-migrate, knex, kysely's
// Migrator, umzug, and the floor, a bare `pg` script that runs the same statements, one
// transaction each. (a) 1,000 CREATE TABLE migrations, (b) 1,000 single-row INSERT
// migrations, (c) `up` with all of them applied, (d) `--help` cold start. Each figure is a
// whole process, spawned, the median of 3 runs (FLUX_BENCH_RUNS), each on a database of its
// own created for the run and dropped after; tools take turns going first. The generated
// projects live in the system's temporary folder and import their tools through a link to
// this folder's node_modules, as an installed app would. Everything runs twice when the role
// may switch durability: on the server as it is (scripts/services starts it with fsync off),
// then durable, as in production (fsync, synchronous_commit, full_page_writes on, reset after).
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../apps/cli/bin/flux.js')
const modules = join(here, 'node_modules')
const COUNT = Number(process.env.FLUX_BENCH_COUNT ?? 1000)
const RUNS = Number(process.env.FLUX_BENCH_RUNS ?? 3)
const SERVER_URL = process.env.FLUX_TEST_PG_URL

type Scenario = 'create' | 'insert'

interface Migration {
  name: string
  up: string
  down: string
}

/** How one tool is set up in a folder, and run. */
interface Tool {
  name: string
  /** How it is run, for the legend. */
  how: string
  write(dir: string, migrations: Migration[]): Promise<void>
  /** The command that applies what is pending (node arguments). */
  up: string[]
  /** The command that prints its help, for tools with a command line. */
  help?: string[]
}

const pad = (index: number) => String(index).padStart(4, '0')

function migrationsOf(scenario: Scenario): Migration[] {
  return Array.from({ length: COUNT }, (_, offset) => {
    const index = offset + 1
    return scenario === 'create'
      ? {
          name: `${pad(index)}_create_t${pad(index)}`,
          up: `create table t${pad(index)} (id bigint primary key, name text not null)`,
          down: `drop table t${pad(index)}`,
        }
      : {
          name: `${pad(index)}_insert_${pad(index)}`,
          up: `insert into item (id, name) values (${index}, 'item ${index}')`,
          down: `delete from item where id = ${index}`,
        }
  })
}

const writeMigrations = async (dir: string, migrations: Migration[], text: (migration: Migration) => string[]) => {
  await mkdir(join(dir, 'migrations'))
  for (const migration of migrations) {
    const [fileName, content] = text(migration)
    await writeFile(join(dir, 'migrations', fileName!), content!)
  }
}

const statementsJson = (migrations: Migration[]) => JSON.stringify(migrations, null, 0)

const TOOLS: Tool[] = [
  {
    name: 'flux',
    how: 'CLI `flux up`, .sql files, a pgStore; one transaction per migration with its ledger row',
    async write(dir, migrations) {
      // as an app that installed flux has it
      const manifest = { private: true, type: 'module', dependencies: { '@flux/core': '*', '@flux/pg': '*', pg: '*' } }
      await writeFile(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
      await writeFile(
        join(dir, 'flux.config.ts'),
        `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'

export default defineConfig({ stores: { main: pgStore({ url: process.env.DATABASE_URL }) } })
`,
      )
      await writeMigrations(dir, migrations, (migration) => [
        `${migration.name}.sql`,
        `-- flux:store main\n-- flux:up\n${migration.up};\n-- flux:down\n${migration.down};\n`,
      ])
    },
    up: [fluxBin, 'up'],
    help: [fluxBin, '--help'],
  },
  {
    name: 'knex',
    how: 'CLI `knex migrate:latest`, .js files; the batch in one transaction (its default)',
    async write(dir, migrations) {
      await writeFile(
        join(dir, 'knexfile.js'),
        `module.exports = { client: 'pg', connection: process.env.DATABASE_URL, migrations: { directory: './migrations' } }\n`,
      )
      await writeMigrations(dir, migrations, (migration) => [
        `${migration.name}.js`,
        `exports.up = (knex) => knex.raw(${JSON.stringify(migration.up)})\nexports.down = (knex) => knex.raw(${JSON.stringify(migration.down)})\n`,
      ])
    },
    up: [join(modules, 'knex/bin/cli.js'), 'migrate:latest'],
    help: [join(modules, 'knex/bin/cli.js'), '--help'],
  },
  {
    name: 'node-pg-migrate',
    how: 'CLI `node-pg-migrate up`, .sql files; the batch in one transaction (its default)',
    async write(dir, migrations) {
      await writeMigrations(dir, migrations, (migration) => [
        `${migration.name}.sql`,
        `-- Up Migration\n${migration.up};\n-- Down Migration\n${migration.down};\n`,
      ])
    },
    up: [join(modules, 'node-pg-migrate/bin/node-pg-migrate.js'), 'up', '--migrations-dir', 'migrations'],
    help: [join(modules, 'node-pg-migrate/bin/node-pg-migrate.js'), '--help'],
  },
  {
    name: 'kysely',
    how: 'API `Migrator.migrateToLatest()` (no CLI), an object provider; the batch in one transaction (its default)',
    async write(dir, migrations) {
      await writeFile(join(dir, 'migrations.json'), statementsJson(migrations))
      await writeFile(
        join(dir, 'migrate.mjs'),
        `import { readFileSync } from 'node:fs'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { Migrator } from 'kysely/migration'
import pg from 'pg'

const list = JSON.parse(readFileSync(new URL('./migrations.json', import.meta.url), 'utf8'))
const migrations = {}
for (const { name, up, down } of list) {
  migrations[name] = { up: (db) => sql.raw(up).execute(db), down: (db) => sql.raw(down).execute(db) }
}
const db = new Kysely({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: process.env.DATABASE_URL }) }) })
const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } })
const { error } = await migrator.migrateToLatest()
await db.destroy()
if (error) throw error
`,
      )
    },
    up: ['migrate.mjs'],
  },
  {
    name: 'umzug',
    how: 'CLI of `umzug.runAsCLI()` `up`, an in-memory list, the minimal pg storage its docs describe; no transaction',
    async write(dir, migrations) {
      await writeFile(join(dir, 'migrations.json'), statementsJson(migrations))
      await writeFile(
        join(dir, 'umzug.mjs'),
        `import { readFileSync } from 'node:fs'
import pg from 'pg'
import { Umzug } from 'umzug'

const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
let connected
const connection = () => (connected ??= client.connect().then(() => client))

/** The custom storage umzug documents (UmzugStorage): one table of executed names. */
const storage = {
  async executed() {
    const db = await connection()
    await db.query('create table if not exists umzug_migrations (name text primary key)')
    const { rows } = await db.query('select name from umzug_migrations order by name')
    return rows.map((row) => row.name)
  },
  async logMigration({ name }) {
    await (await connection()).query('insert into umzug_migrations (name) values ($1)', [name])
  },
  async unlogMigration({ name }) {
    await (await connection()).query('delete from umzug_migrations where name = $1', [name])
  },
}

const list = JSON.parse(readFileSync(new URL('./migrations.json', import.meta.url), 'utf8'))
const umzug = new Umzug({
  migrations: list.map(({ name, up, down }) => ({
    name,
    up: async () => (await connection()).query(up),
    down: async () => (await connection()).query(down),
  })),
  storage,
  logger: undefined,
})
try {
  await umzug.runAsCLI()
} finally {
  if (connected) await client.end()
}
`,
      )
    },
    up: ['umzug.mjs', 'up'],
    help: ['umzug.mjs', '--help'],
  },
]

/** The floor: the same statements, each in a transaction of its own, through one connection. */
const FLOOR: Tool = {
  name: 'floor (bare pg)',
  how: 'a `pg` script: each statement sent alone (autocommit: one transaction, one round trip each)',
  async write(dir, migrations) {
    await writeFile(join(dir, 'migrations.json'), statementsJson(migrations))
    await writeFile(
      join(dir, 'floor.mjs'),
      `import { readFileSync } from 'node:fs'
import pg from 'pg'

const list = JSON.parse(readFileSync(new URL('./migrations.json', import.meta.url), 'utf8'))
const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
await client.connect()
for (const { up } of list) await client.query(up)
await client.end()
`,
    )
  },
  up: ['floor.mjs'],
}

/** The figure flux aims at on (b) with durability on: the same statements, all in one transaction (one flush). */
const ONE_TRANSACTION: Tool = {
  name: 'one transaction',
  how: 'a `pg` script: BEGIN, every statement sent alone, COMMIT (one flush for all)',
  async write(dir, migrations) {
    await writeFile(join(dir, 'migrations.json'), statementsJson(migrations))
    await writeFile(
      join(dir, 'one-transaction.mjs'),
      `import { readFileSync } from 'node:fs'
import pg from 'pg'

const list = JSON.parse(readFileSync(new URL('./migrations.json', import.meta.url), 'utf8'))
const client = new pg.Client({ connectionString: process.env.DATABASE_URL })
await client.connect()
await client.query('begin')
for (const { up } of list) await client.query(up)
await client.query('commit')
await client.end()
`,
    )
  },
  up: ['one-transaction.mjs'],
}

/** Bare-driver baselines, always measured, never counted as peers. */
const BASELINES = [FLOOR, ONE_TRANSACTION]

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** Seconds the command took, as a whole process. */
function time(args: string[], cwd: string, databaseUrl?: string): number {
  const env = { ...process.env, DATABASE_URL: databaseUrl ?? '' }
  for (let attempt = 1; ; attempt++) {
    const started = performance.now()
    const result = spawnSync(process.execPath, args, {
      cwd,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
      encoding: 'utf8',
    })
    const elapsed = (performance.now() - started) / 1000
    if (result.status === 0) return elapsed
    // a package of the workspace being rebuilt meanwhile fails the process as it loads, before it does anything: again
    if (attempt < 5 && result.stderr.includes('ERR_MODULE_NOT_FOUND')) {
      spawnSync('sleep', ['2'])
      continue
    }
    throw new Error(`${args.join(' ')} in ${cwd} failed (${result.status}): ${result.stderr}`)
  }
}

function databaseUrl(name: string): string {
  const url = new URL(SERVER_URL!)
  url.pathname = `/${name}`
  return url.href
}

type Figures = Map<string, number[]>

/** The settings that decide what a commit costs, as the server has them now. */
async function durabilityOf(admin: pg.Client): Promise<{ name: string; setting: string }[]> {
  const { rows } = await admin.query<{ name: string; setting: string }>(
    `select name, setting from pg_settings where name in ('fsync', 'synchronous_commit', 'full_page_writes') order by name`,
  )
  return rows
}

/**
 * Sets fsync, synchronous_commit and full_page_writes (all reloadable) server-wide, and waits
 * until a new session sees them. `undefined` resets them to the server's configuration files.
 */
async function setDurability(admin: pg.Client, value: 'on' | undefined): Promise<void> {
  for (const name of ['fsync', 'synchronous_commit', 'full_page_writes']) {
    await admin.query(value ? `alter system set ${name} = ${value}` : `alter system reset ${name}`)
  }
  await admin.query('select pg_reload_conf()')
  const expected = value ?? 'off'
  for (let tries = 0; tries < 100; tries++) {
    const probe = new pg.Client({ connectionString: SERVER_URL })
    await probe.connect()
    const seen = (await probe.query<{ fsync: string }>('show fsync')).rows[0]!.fsync
    await probe.end()
    if (value === undefined || seen === expected) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`the server did not take fsync = ${expected}`)
}

/** Runs every tool RUNS times on every scenario; seconds per key `<scenario>/<tool>`. */
async function measure(admin: pg.Client, root: string, tools: Tool[], dirs: Map<string, string>): Promise<Figures> {
  const figures: Figures = new Map()
  const record = (key: string, seconds: number) => figures.set(key, [...(figures.get(key) ?? []), seconds])
  const withDatabase = async (tool: Tool, fn: (url: string) => Promise<void>) => {
    const name = `bench_${tool.name.replace(/\W+/g, '_')}_${randomBytes(4).toString('hex')}`
    await admin.query(`create database ${name}`)
    try {
      await fn(databaseUrl(name))
    } finally {
      await admin.query(`drop database ${name} with (force)`)
    }
  }
  const check = async (url: string, sql: string, expected: number, what: string) => {
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const found = Number((await client.query<{ n: string }>(sql)).rows[0]!.n)
      if (found !== expected) throw new Error(`${what}: expected ${expected}, found ${found}`)
    } finally {
      await client.end()
    }
  }

  for (let run = 0; run < RUNS; run++) {
    // a different tool goes first in each run, so that no tool always meets a cold server
    const order = tools.map((_, index) => tools[(index + run) % tools.length]!)
    for (const tool of order) {
      await withDatabase(tool, async (url) => {
        const dir = dirs.get(`create/${tool.name}`)!
        record(`a/${tool.name}`, time(tool.up, dir, url))
        await check(url, `select count(*) as n from pg_tables where tablename ~ '^t[0-9]+$'`, COUNT, tool.name)
        if (!BASELINES.includes(tool)) record(`c/${tool.name}`, time(tool.up, dir, url))
      })
      await withDatabase(tool, async (url) => {
        const client = new pg.Client({ connectionString: url })
        await client.connect()
        await client.query('create table item (id bigint primary key, name text not null)')
        await client.end()
        record(`b/${tool.name}`, time(tool.up, dirs.get(`insert/${tool.name}`)!, url))
        await check(url, 'select count(*) as n from item', COUNT, tool.name)
      })
    }
    for (const tool of order) if (tool.help) record(`d/${tool.name}`, time(tool.help, dirs.get(`create/${tool.name}`)!))
    record('d/node -e 0', time(['-e', '0'], root))
  }
  return figures
}

function report(figures: Figures, tools: Tool[]): void {
  const rows = [...tools.map((tool) => tool.name), 'node -e 0']
  const flux = (scenario: string) => median(figures.get(`${scenario}/flux`)!)
  const cell = (scenario: string, name: string) => {
    const values = figures.get(`${scenario}/${name}`)
    if (!values) return '—'
    const seconds = median(values)
    return `${seconds.toFixed(3)} s${name === 'flux' ? '        ' : ` (${(seconds / flux(scenario)).toFixed(2)}×)`}`
  }
  const count = COUNT.toLocaleString('en')
  const headings = [`(a) ${count} CREATE TABLE`, `(b) ${count} INSERT`, '(c) up, all applied', '(d) --help']
  console.log(`${''.padEnd(17)}${headings.map((heading) => heading.padEnd(24)).join('')}`)
  for (const name of rows) {
    console.log(`${name.padEnd(17)}${['a', 'b', 'c', 'd'].map((scenario) => cell(scenario, name).padEnd(24)).join('')}`)
  }
  console.log()
  console.log(
    `(×: time of the tool / time of flux; above 1, flux is faster. Load average ${loadavg()[0]!.toFixed(2)} at the end: other work on this machine shows in the figures.)`,
  )
  for (const [scenario, label] of [
    ['a', '(a)'],
    ['b', '(b)'],
  ] as const) {
    const floor = figures.get(`${scenario}/${FLOOR.name}`)
    if (floor) console.log(`flux / floor on ${label}: ${(flux(scenario) / median(floor)).toFixed(2)}× (target ≤ 1.3×)`)
  }
  const single = figures.get(`b/${ONE_TRANSACTION.name}`)
  if (single) {
    // with durability on, each commit that waits for its own flush shows here (issue 17)
    console.log(
      `flux / one transaction on (b): ${(flux('b') / median(single)).toFixed(2)}× (target ≤ 1.2× with durability on)`,
    )
  }
  for (const scenario of ['a', 'b', 'c', 'd']) {
    const peers = TOOLS.slice(1)
      .map((tool) => [tool.name, figures.get(`${scenario}/${tool.name}`)] as const)
      .filter((entry): entry is readonly [string, number[]] => entry[1] !== undefined)
      .map(([name, values]) => [name, median(values)] as const)
      .sort((a, b) => a[1] - b[1])
    if (peers.length === 0) continue
    const [name, seconds] = peers[0]!
    const verdict = flux(scenario) <= seconds ? 'at or below' : 'ABOVE'
    console.log(
      `(${scenario}) flux ${flux(scenario).toFixed(3)} s is ${verdict} the fastest peer, ${name} ${seconds.toFixed(3)} s`,
    )
  }
  console.log(
    `raw: ${JSON.stringify(Object.fromEntries([...figures].map(([key, values]) => [key, values.map((value) => Number(value.toFixed(3)))])))}`,
  )
}

async function main(): Promise<void> {
  if (!SERVER_URL) {
    throw new Error('FLUX_TEST_PG_URL is not set: run `scripts/services start`, then `eval "$(scripts/services env)"`')
  }
  const admin = new pg.Client({ connectionString: SERVER_URL })
  await admin.connect()
  const root = await mkdtemp(join(tmpdir(), 'flux-bench-pg-'))
  let changed = false
  try {
    // the generated projects import their tools as an installed app would
    await symlink(modules, join(root, 'node_modules'), 'dir')
    const { rows: version } = await admin.query<{ server_version: string }>('show server_version')
    const { rows: role } = await admin.query<{ super: boolean }>(
      'select rolsuper as super from pg_roles where rolname = current_user',
    )
    console.log(
      `flux bench on PostgreSQL ${version[0]!.server_version}, node ${process.versions.node}, ${cpus().length} CPUs, ${process.platform}/${process.arch}`,
    )
    console.log(
      `${COUNT} migrations per scenario; median of ${RUNS} runs; seconds per whole process; load average ${loadavg()[0]!.toFixed(2)} at the start`,
    )

    // FLUX_BENCH_TOOLS=flux,knex runs only those (and the floor), for a quick look
    const only = process.env.FLUX_BENCH_TOOLS?.split(',')
    const tools = [...TOOLS, ...BASELINES].filter(
      (tool) => !only || BASELINES.includes(tool) || only.includes(tool.name),
    )
    const dirs = new Map<string, string>()
    for (const scenario of ['create', 'insert'] as const) {
      const migrations = migrationsOf(scenario)
      for (const tool of tools) {
        const dir = join(root, `${scenario}-${tool.name.replace(/\W+/g, '-')}`)
        await mkdir(dir)
        await tool.write(dir, migrations)
        dirs.set(`${scenario}/${tool.name}`, dir)
      }
    }
    for (const tool of tools) console.log(`${tool.name}: ${tool.how}`)

    // A commit costs what the server's durability makes it cost. scripts/services starts the
    // test server with it off (fsync, synchronous_commit, full_page_writes), where process
    // start-up weighs most; a production server has it on, as where the issue's figures were
    // measured. Both are shown when the role may switch them (FLUX_BENCH_DURABILITY=as-is: only the first).
    const settings = await durabilityOf(admin)
    const describe = (rows: { name: string; setting: string }[]) =>
      rows.map((row) => `${row.name}=${row.setting}`).join(', ')
    console.log()
    console.log(`— the server as it is (${describe(settings)})`)
    report(await measure(admin, root, tools, dirs), tools)
    const off = settings.some((row) => row.setting === 'off')
    if (off && role[0]?.super && process.env.FLUX_BENCH_DURABILITY !== 'as-is') {
      changed = true
      await setDurability(admin, 'on')
      console.log()
      console.log(`— durable, as in production (${describe(await durabilityOf(admin))}; reset after the run)`)
      report(await measure(admin, root, tools, dirs), tools)
    } else if (off) {
      console.log('note: durability is off on this server: per-transaction costs are lower than on a production server')
    }
  } finally {
    if (changed) await setDurability(admin, undefined)
    await admin.end()
    await rm(root, { recursive: true, force: true })
  }
}

await main()
