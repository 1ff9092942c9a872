// Stores side by side (`pnpm build`, `scripts/services start`, `eval "$(scripts/services env)"`,
// then `pnpm bench:stores`): 5 stores (fs, pg, redis, mongo, s3) × 200 independent trivial
// migrations (each store's chain depends on nothing of the others'), run by `flux up` with its
// default concurrency, by `flux up --concurrency 1`, and each store alone; printed: the medians
// and the ratio "all five / slowest alone" (target ≤ 1.15×). Each figure is a whole process,
// spawned, the median of 3 runs (FLUX_BENCH_RUNS), each in a project of its own with fresh
// namespaces (a pg schema, a redis prefix, a mongo database, an s3 prefix, a folder), cleaned
// after the run; the scenarios take turns going first. The projects live in the system's
// temporary folder and import flux and its adapters through a link to apps/cli's node_modules.
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../apps/cli/bin/flux.js')
const modules = join(here, '../apps/cli/node_modules')
const COUNT = Number(process.env.FLUX_BENCH_COUNT ?? 200)
const RUNS = Number(process.env.FLUX_BENCH_RUNS ?? 3)

const env = process.env
for (const variable of ['FLUX_TEST_PG_URL', 'FLUX_TEST_REDIS_URL', 'FLUX_TEST_MONGO_URL', 'FLUX_TEST_S3_ENDPOINT']) {
  if (!env[variable]) {
    console.error(`${variable} is not set: run \`eval "$(scripts/services env)"\` first (scripts/services start)`)
    process.exit(2)
  }
}
const S3_ENV = {
  AWS_ACCESS_KEY_ID: env.FLUX_TEST_S3_ACCESS_KEY_ID ?? '',
  AWS_SECRET_ACCESS_KEY: env.FLUX_TEST_S3_SECRET_ACCESS_KEY ?? '',
  AWS_REGION: env.FLUX_TEST_S3_REGION ?? 'us-east-1',
}
const BUCKET = env.FLUX_TEST_S3_BUCKET ?? 'flux-test'

// the drivers, for cleaning up, are the adapters' dependencies
const requireFrom = (name: string) => createRequire(createRequire(join(modules, 'x.js')).resolve(name))
const pg = requireFrom('@flux/pg')('pg')
const { Redis } = requireFrom('@flux/redis')('ioredis')
const { MongoClient } = requireFrom('@flux/mongo')('mongodb')
const s3sdk = requireFrom('@flux/s3')('@aws-sdk/client-s3')

type StoreName = 'files' | 'catalog' | 'cache' | 'docs' | 'blobs'
const STORES: StoreName[] = ['files', 'catalog', 'cache', 'docs', 'blobs']
const KIND: Record<StoreName, string> = { files: 'fs', catalog: 'pg', cache: 'redis', docs: 'mongo', blobs: 's3' }

/** One run's namespaces. */
interface Space {
  id: string
}

function storeCall(store: StoreName, space: Space): string {
  switch (store) {
    case 'files':
      return "fsStore({ root: './var/files' })"
    case 'catalog':
      return `pgStore({ url: process.env.FLUX_TEST_PG_URL, schema: '${space.id}' })`
    case 'cache':
      return `redisStore({ url: process.env.FLUX_TEST_REDIS_URL, prefix: '${space.id}:' })`
    case 'docs':
      return `mongoStore({ url: process.env.FLUX_TEST_MONGO_URL, database: '${space.id}' })`
    case 'blobs':
      return `s3Store({ bucket: '${BUCKET}', prefix: '${space.id}/', endpoint: process.env.FLUX_TEST_S3_ENDPOINT, forcePathStyle: true })`
  }
}

/** The trivial write of migration `index` of a store: one key, one row, one document, one object. */
function writeOf(store: StoreName, index: number, space: Space): string {
  switch (store) {
    case 'files':
    case 'blobs':
      return `await store.put('k${index}.txt', 'x')`
    case 'catalog':
      return index === 1
        ? `await store.query('create table ${space.id}.kv (k int)')`
        : `await store.query('insert into ${space.id}.kv values (${index})')`
    case 'cache':
      return `await store.redis.set('${space.id}:k${index}', 'x')`
    case 'docs':
      return `await store.db.collection('kv').insertOne({ _id: ${index} })`
  }
}

const pad = (index: number) => String(index).padStart(4, '0')

/** A project over `stores`, each with its own chain of COUNT migrations. */
async function writeProject(stores: StoreName[], space: Space): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-bench-stores-'))
  await symlink(modules, join(dir, 'node_modules'), 'dir')
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`)
  const kinds = [...new Set(stores.map((store) => KIND[store]))]
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
${kinds.map((kind) => `import { ${kind}Store } from '@flux/${kind}'`).join('\n')}

export default defineConfig({
  stores: {
${stores.map((store) => `    ${store}: ${storeCall(store, space)},`).join('\n')}
  },
  allowBranches: true,
})
`,
  )
  await mkdir(join(dir, 'migrations'))
  for (let index = 1; index <= COUNT; index++) {
    for (const store of stores) {
      const parents = index === 1 ? [] : [`${pad(index - 1)}_${store}`]
      await writeFile(
        join(dir, 'migrations', `${pad(index)}_${store}.ts`),
        `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: '${store}',
  parents: ${JSON.stringify(parents)},
  async up({ store }: { store: any }) {
    ${writeOf(store, index, space)}
  },
})
`,
      )
    }
  }
  return dir
}

async function clean(dir: string, space: Space): Promise<void> {
  const client = new pg.Client({ connectionString: env.FLUX_TEST_PG_URL })
  await client.connect()
  await client.query(`drop schema if exists ${space.id} cascade`)
  await client.end()
  const redis = new Redis(env.FLUX_TEST_REDIS_URL)
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `*${space.id}*`, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await redis.del(...keys)
  } while (cursor !== '0')
  redis.disconnect()
  const mongo = new MongoClient(env.FLUX_TEST_MONGO_URL)
  await mongo.connect()
  await mongo.db(space.id).dropDatabase()
  await mongo.close()
  const s3 = new s3sdk.S3Client({
    endpoint: env.FLUX_TEST_S3_ENDPOINT,
    forcePathStyle: true,
    region: S3_ENV.AWS_REGION,
    credentials: { accessKeyId: S3_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: S3_ENV.AWS_SECRET_ACCESS_KEY },
  })
  for (;;) {
    const listed = await s3.send(new s3sdk.ListObjectsV2Command({ Bucket: BUCKET, Prefix: `${space.id}/` }))
    const keys = (listed.Contents ?? []).map((object: { Key: string }) => ({ Key: object.Key }))
    if (keys.length === 0) break
    await s3.send(new s3sdk.DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: keys } }))
  }
  s3.destroy()
  await rm(dir, { recursive: true, force: true })
}

/** CPU time of the whole machine (all cores, in clock ticks): busy and in total, from /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = fields.reduce((sum, value) => sum + value, 0)
  // idle and iowait
  return { busy: total - fields[3]! - (fields[4] ?? 0), total }
}

/** CPU seconds used by this process's children that have ended (user + system), from /proc/self/stat. */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // cutime and cstime are fields 16 and 17 of the line: 14 and 15 after the name and state
  return (Number(fields[13]) + Number(fields[14])) / 100
}

/** What one run used: the machine's cores busy (share of all), and flux's own CPU seconds. */
const usage = new Map<string, { machine: number[]; flux: number[] }>()

/** Seconds of one whole `flux up` over `stores`, in a fresh project. */
async function timeRun(stores: StoreName[], args: string[], name?: string): Promise<number> {
  const space = { id: `bench_${randomBytes(4).toString('hex')}` }
  const dir = await writeProject(stores, space)
  try {
    const [ticks, cpu] = [machineTicks(), childrenCpuSeconds()]
    const started = performance.now()
    const result = spawnSync(process.execPath, [fluxBin, 'up', ...args], {
      cwd: dir,
      // Node's compile cache (flux's bin enables it) in the project, removed with it, rather than a
      // file per migration added to the system's temporary folder at every run; as cold there
      env: { ...env, ...S3_ENV, NO_COLOR: '1', NODE_COMPILE_CACHE: join(dir, '.node-compile-cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    })
    const seconds = (performance.now() - started) / 1000
    const after = machineTicks()
    if (name) {
      const used = usage.get(name) ?? { machine: [], flux: [] }
      used.machine.push((after.busy - ticks.busy) / (after.total - ticks.total))
      used.flux.push(childrenCpuSeconds() - cpu)
      usage.set(name, used)
    }
    if (result.status !== 0) {
      throw new Error(`flux up ${args.join(' ')} over ${stores.join(', ')} failed (${result.status}): ${result.stderr}`)
    }
    const applied = /(\d+) applied/.exec(result.stdout.trim().split('\n').at(-1) ?? '')?.[1]
    if (Number(applied) !== COUNT * stores.length)
      throw new Error(`expected ${COUNT * stores.length} applied: ${result.stdout.slice(-300)}`)
    return seconds
  } finally {
    await clean(dir, space)
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

interface Scenario {
  name: string
  stores: StoreName[]
  args: string[]
}

const scenarios: Scenario[] = [
  { name: 'all five, flux up (default concurrency)', stores: STORES, args: [] },
  { name: 'all five, flux up --concurrency 1', stores: STORES, args: ['--concurrency', '1'] },
  ...STORES.map((store) => ({ name: `${store} (${KIND[store]}) alone`, stores: [store], args: [] })),
]

console.log(
  `${STORES.length} stores × ${COUNT} independent trivial migrations; median of ${RUNS} runs; seconds per whole process; ${cpus().length} cpus, load average ${loadavg()[0]!.toFixed(2)} at the start`,
)
const times = new Map<string, number[]>(scenarios.map((scenario) => [scenario.name, []]))
for (let run = 0; run < RUNS; run++) {
  // each scenario goes first in turn
  const order = scenarios.map((_, index) => scenarios[(index + run) % scenarios.length]!)
  for (const scenario of order)
    times.get(scenario.name)!.push(await timeRun(scenario.stores, scenario.args, scenario.name))
}
const figure = (name: string) => median(times.get(name)!)
for (const scenario of scenarios) {
  const all = times
    .get(scenario.name)!
    .map((value) => value.toFixed(2))
    .join(', ')
  const used = usage.get(scenario.name)!
  console.log(
    `  ${scenario.name.padEnd(44)} ${figure(scenario.name).toFixed(2)} s  (runs: ${all}); cores busy ${(median(used.machine) * 100).toFixed(0)}%, flux's own CPU ${median(used.flux).toFixed(2)} s`,
  )
}
const alone = scenarios.slice(2)
const slowest = alone.reduce((worst, scenario) => (figure(scenario.name) > figure(worst.name) ? scenario : worst))
const side = figure(scenarios[0]!.name)
const serial = figure(scenarios[1]!.name)
console.log(`all five / slowest alone (${slowest.name}): ${(side / figure(slowest.name)).toFixed(2)}× (target ≤ 1.15×)`)
console.log(`all five one at a time / all five side by side: ${(serial / side).toFixed(2)}×`)
console.log(`load average ${loadavg()[0]!.toFixed(2)} at the end: other work on this machine shows in the figures.`)
console.log(
  "cores busy: the share of all the machine's cores (flux, the five servers and anything else) in use during the run; near 100%, the run is bound by this machine's CPU, not by waiting.",
)
