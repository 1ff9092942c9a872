// A fleet of tenant schemas (`pnpm build`, `scripts/services start`, `eval "$(scripts/services env)"`,
// then `pnpm bench:fleet`): 500 schemas (FLUX_BENCH_MEMBERS) on the project's PostgreSQL, 20
// one-statement `.sql` migrations each (FLUX_BENCH_MIGRATIONS), applied by
// - `flux up` (one runner, its default concurrency: 4 members at once),
// - 4 `flux up` processes started together over the same fleet (the time until the last ends),
// - the floor: a script with the bare `pg` driver doing the same SQL in each tenant, 4 tenants at
//   once, one connection each, one transaction per migration with its ledger row, and nothing
//   else (no lease, no checksums, no plan).
// Printed: the medians of 3 runs (FLUX_BENCH_RUNS), the ratios "flux / floor" (target ≤ 1.3×)
// and "4 runners / 1 runner" (target ≤ 1), and the machine's load. Each figure is a whole
// process (or four), spawned, on schemas of its own, dropped after the run; the scenarios take
// turns going first. The projects live in the system's temporary folder and import flux and
// its adapters through a link to apps/cli's node_modules.
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
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
const MEMBERS = Number(process.env.FLUX_BENCH_MEMBERS ?? 500)
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

/** A project whose fleet `tenants` has MEMBERS schemas `<prefix>_<n>`, listed in members.txt. */
async function writeProject(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-bench-fleet-'))
  await symlink(modules, join(dir, 'node_modules'), 'dir')
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`)
  const members = Array.from({ length: MEMBERS }, (_, index) => pad(index, 4))
  await writeFile(join(dir, 'members.txt'), `${members.join('\n')}\n`)
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { readFileSync } from 'node:fs'
import { defineConfig, fleet } from '@flux/core'
import { pgStore } from '@flux/pg'

const url = process.env.FLUX_TEST_PG_URL
export default defineConfig({
  stores: {
    tenants: fleet({
      members: () => readFileSync('members.txt', 'utf8').split('\\n').filter(Boolean),
      store: (tenant) => pgStore({ url, schema: \`${prefix}_\${tenant}\`, searchPath: \`${prefix}_\${tenant}\` }),
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
  // the floor: the same statements, CONCURRENCY tenants at once, a transaction and a ledger row per migration
  await writeFile(
    join(dir, 'floor.mjs'),
    `import { readFileSync } from 'node:fs'
import pg from ${literal(pgPath)}
const members = readFileSync('members.txt', 'utf8').split('\\n').filter(Boolean)
const statements = ${JSON.stringify(Array.from({ length: MIGRATIONS }, (_, index) => statementOf(index + 1)))}
let next = 0
async function worker() {
  const client = new pg.Client({ connectionString: process.env.FLUX_TEST_PG_URL })
  await client.connect()
  while (next < members.length) {
    const schema = ${literal(prefix)} + '_' + members[next++]
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
  await client.end()
}
await Promise.all(Array.from({ length: ${CONCURRENCY} }, worker))
`,
  )
  return dir
}

async function clean(dir: string, prefix: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like $1`, [
      `${prefix}\\_%`,
    ])
    // a few schemas per statement: one transaction for all would take a lock per table at once
    for (let start = 0; start < rows.length; start += 20) {
      const names = rows.slice(start, start + 20).map((row) => `"${row.nspname}"`)
      await client.query(`drop schema if exists ${names.join(', ')} cascade`)
    }
  } finally {
    await client.end()
  }
  await rm(dir, { recursive: true, force: true })
}

/** Schemas of `prefix` whose ledger holds every migration: a run that left one out is not a result. */
async function membersAtHead(prefix: string, ledger: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ nspname: string }>(`select nspname from pg_namespace where nspname like $1`, [
      `${prefix}\\_%`,
    ])
    let complete = 0
    for (const { nspname } of rows) {
      const counted = await client.query<{ n: string }>(`select count(*) as n from "${nspname}".${ledger}`)
      if (Number(counted.rows[0]!.n) === MIGRATIONS) complete += 1
    }
    return complete
  } finally {
    await client.end()
  }
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
    name: `flux up, ${RUNNERS} runners started together`,
    processes: Array.from({ length: RUNNERS }, () => [fluxBin, 'up']),
    ledger: 'flux_ledger',
  },
]
const times = new Map<string, number[]>(scenarios.map((scenario) => [scenario.name, []]))
const busy = new Map<string, number[]>(scenarios.map((scenario) => [scenario.name, []]))

async function timeRun(scenario: Scenario): Promise<void> {
  const prefix = `bfleet_${randomBytes(4).toString('hex')}`
  const dir = await writeProject(prefix)
  try {
    const ticks = machineTicks()
    const started = performance.now()
    const results = await Promise.all(scenario.processes.map((args) => run(args, dir)))
    const seconds = (performance.now() - started) / 1000
    const after = machineTicks()
    for (const result of results) {
      if (result.code !== 0) throw new Error(`${scenario.name} failed (${result.code}): ${result.stderr.slice(-600)}`)
    }
    const complete = await membersAtHead(prefix, scenario.ledger)
    if (complete !== MEMBERS) throw new Error(`${scenario.name}: ${complete} of ${MEMBERS} members at head`)
    times.get(scenario.name)!.push(seconds)
    busy.get(scenario.name)!.push((after.busy - ticks.busy) / (after.total - ticks.total))
  } finally {
    await clean(dir, prefix)
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

console.log(
  `fleet of ${MEMBERS} pg schemas × ${MIGRATIONS} one-statement migrations (${MEMBERS * MIGRATIONS} in all); median of ${RUNS} runs; seconds per whole run; ${cpus().length} cpus, load average ${loadavg()[0]!.toFixed(2)} at the start`,
)
for (let round = 0; round < RUNS; round++) {
  // each scenario goes first in turn
  for (let index = 0; index < scenarios.length; index++) await timeRun(scenarios[(index + round) % scenarios.length]!)
}
const figure = (name: string) => median(times.get(name)!)
for (const scenario of scenarios) {
  const all = times
    .get(scenario.name)!
    .map((value) => value.toFixed(2))
    .join(', ')
  const seconds = figure(scenario.name)
  console.log(
    `  ${scenario.name.padEnd(40)} ${seconds.toFixed(2)} s  (runs: ${all}); ${((MEMBERS * MIGRATIONS) / seconds).toFixed(0)} migrations/s; cores busy ${(median(busy.get(scenario.name)!) * 100).toFixed(0)}%`,
  )
}
const [floor, one, many] = scenarios.map((scenario) => figure(scenario.name))
console.log(`flux up / floor: ${(one! / floor!).toFixed(2)}× (target ≤ 1.3×)`)
console.log(`${RUNNERS} runners / 1 runner: ${(many! / one!).toFixed(2)}× (target ≤ 1×)`)
console.log(`load average ${loadavg()[0]!.toFixed(2)} at the end: other work on this machine shows in the figures.`)
console.log(
  "cores busy: the share of all the machine's cores (flux, PostgreSQL and anything else) in use during the run; near 100%, the run is bound by this machine's CPU, not by waiting.",
)
