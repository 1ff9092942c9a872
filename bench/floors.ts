// flux against the floor on each adapter (`pnpm build`, `scripts/services start`,
// `eval "$(scripts/services env)"`, then `pnpm bench:floors`): 1,000 trivial migrations
// (FLUX_BENCH_COUNT), each doing one write to its store, applied by `flux up`, against a
// bare-driver script doing the same 1,000 writes one after another and nothing else (the floor),
// and against the same script with each write followed by one write that records it (+ ledger:
// what any tool that remembers what it applied must add, the bound for two round trips a step).
// Each figure is a whole process, spawned, the median of 3 runs (FLUX_BENCH_RUNS), each on a
// namespace of its own (a folder, a database, a key prefix, a bucket prefix) dropped after; flux
// and the floor take turns going first. Stores: fs, pg (`.sql` migrations, one transaction each
// with its ledger row), redis, mongo (FerretDB), s3 (MinIO); a store whose FLUX_TEST_* variable
// is unset is skipped. The generated projects live in the system's temporary folder and import
// flux and the drivers through links to this checkout's packages, as an installed app would.
//
// `pnpm bench:floors --trips`: instead of timing, counts what one step costs on fs, s3 and mongo
// (the stores without transactions): the HTTP requests and mongo commands that go through a
// counting proxy, and the fsync/write/rename system calls (strace) of an fs store, for runs of
// 20 and 40 migrations, whose difference is the cost of 20 steps (opening, the lease and the
// first ledger read cancel out). FLUX_BENCH_STORES=fs,redis measures only those stores.
import { spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { type AddressInfo, createServer, connect as netConnect, type Socket } from 'node:net'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const fluxBin = join(root, 'apps/cli/bin/flux.js')
const COUNT = Number(process.env.FLUX_BENCH_COUNT ?? 1000)
const RUNS = Number(process.env.FLUX_BENCH_RUNS ?? 3)
/** FLUX_BENCH_STORES=fs,redis: only those stores. */
const ONLY = process.env.FLUX_BENCH_STORES?.split(',').filter(Boolean)
const env = process.env
// flux and the floor read the credentials from the environment, as users give them
if (env.FLUX_TEST_S3_ACCESS_KEY_ID) {
  env.AWS_ACCESS_KEY_ID ??= env.FLUX_TEST_S3_ACCESS_KEY_ID
  env.AWS_SECRET_ACCESS_KEY ??= env.FLUX_TEST_S3_SECRET_ACCESS_KEY
}

/** Packages a generated project imports, and where this checkout has them. */
const LINKS: Record<string, string> = {
  '@flux/core': 'packages/core',
  '@flux/fs': 'packages/fs',
  '@flux/pg': 'packages/pg',
  '@flux/redis': 'packages/redis',
  '@flux/mongo': 'packages/mongo',
  '@flux/s3': 'packages/s3',
  pg: 'packages/pg/node_modules/pg',
  ioredis: 'packages/redis/node_modules/ioredis',
  mongodb: 'packages/mongo/node_modules/mongodb',
  '@aws-sdk/client-s3': 'packages/s3/node_modules/@aws-sdk/client-s3',
}

/** One namespace of a store for one run: how flux's config and the floor reach it. */
interface Namespace {
  /** The `main` store's factory call in flux.config.ts. */
  config: string
  /** The statement of migration `index`, with the store's client as `store`. */
  write(index: number): string
  /** A whole floor script (`.mjs`): the same writes with the bare driver. */
  floor: string
  /**
   * The same writes, each made durable before the next (fsync), as flux's own writes are: for
   * a store whose plain floor is not (fs).
   */
  durableFloor?: string
  /**
   * The floor with bookkeeping: each write followed by one write that records it, the least a
   * tool that knows what it applied adds (a row in the same transaction on pg; a line appended
   * durably after the durable write on fs; a hash field, a document, an object elsewhere).
   */
  ledgerFloor: string
  /** Where the counting proxy of `--trips` sends what it receives, when the store is a server. */
  upstream?: { host: string; port: number }
  /** The config when the store is reached through a proxy on `port`. */
  through?(port: number): string
  cleanup(): Promise<void>
}

interface Store {
  name: string
  imports: string
  /** The environment variable that must be set for the store to be measured. */
  variable?: string
  /** pg reads `.sql` migrations, its fast path; the others run `.ts` migrations. */
  sql?: boolean
  create(dir: string): Promise<Namespace>
}

const literal = (value: string) => JSON.stringify(value)
const unique = (label: string) => `${label}_${randomBytes(5).toString('hex')}`
const hostPort = (url: string) => {
  const parsed = new URL(url)
  return { host: parsed.hostname, port: Number(parsed.port) }
}
const withPort = (url: string, port: number) => {
  const parsed = new URL(url)
  parsed.host = `127.0.0.1:${port}`
  return parsed.toString()
}

const s3Settings = () => ({
  endpoint: env.FLUX_TEST_S3_ENDPOINT!,
  bucket: env.FLUX_TEST_S3_BUCKET ?? 'flux-test',
  region: env.FLUX_TEST_S3_REGION ?? 'us-east-1',
})

const ALL_STORES: Store[] = [
  {
    name: 'fs',
    imports: "import { fsStore } from '@flux/fs'",
    async create(dir) {
      const folder = join(dir, 'var', 'files')
      return {
        config: `fsStore({ root: ${literal(folder)} })`,
        write: (index) => `await store.put('items/${index}', 'item ${index}')`,
        // writeFile, as a user's script would: put() of @flux/fs writes a temporary file and renames it
        floor: `import { mkdir, writeFile } from 'node:fs/promises'
const folder = ${literal(join(folder, 'items'))}
await mkdir(folder, { recursive: true })
for (let index = 1; index <= ${COUNT}; index++) await writeFile(folder + '/' + index, 'item ' + index)
`,
        durableFloor: `import { mkdir, open } from 'node:fs/promises'
const folder = ${literal(join(folder, 'items'))}
await mkdir(folder, { recursive: true })
for (let index = 1; index <= ${COUNT}; index++) {
  const file = await open(folder + '/' + index, 'w')
  await file.writeFile('item ' + index)
  await file.sync()
  await file.close()
}
`,
        ledgerFloor: `import { constants } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
const folder = ${literal(join(folder, 'items'))}
await mkdir(folder, { recursive: true })
const journal = await open(${literal(join(folder, '..', 'ledger.jsonl'))}, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_DSYNC)
for (let index = 1; index <= ${COUNT}; index++) {
  const file = await open(folder + '/' + index, 'w')
  await file.writeFile('item ' + index)
  await file.sync()
  await file.close()
  await journal.write(JSON.stringify({ id: 'app/' + index, status: 'applied', at: new Date().toISOString() }) + '\\n')
}
await journal.close()
`,
        cleanup: () => rm(join(folder, '..'), { recursive: true, force: true }),
      }
    },
  },
  {
    name: 'pg',
    imports: "import { pgStore } from '@flux/pg'",
    variable: 'FLUX_TEST_PG_URL',
    sql: true,
    async create() {
      const url = env.FLUX_TEST_PG_URL!
      const schema = unique('floors')
      const pg = (await import(join(root, LINKS.pg!, 'lib/index.js'))).default
      const admin = new pg.Client({ connectionString: url })
      await admin.connect()
      await admin.query(
        `create schema "${schema}"; create table "${schema}".item (id int primary key, name text not null); create table "${schema}".ledger (id text primary key, applied_at timestamptz not null)`,
      )
      await admin.end()
      return {
        config: `pgStore({ url: ${literal(url)}, schema: ${literal(schema)} })`,
        write: (index) => `insert into "${schema}".item (id, name) values (${index}, 'item ${index}')`,
        // one autocommitted insert per migration, on one connection
        floor: `import pg from 'pg'
const client = new pg.Client({ connectionString: ${literal(url)} })
await client.connect()
for (let index = 1; index <= ${COUNT}; index++) await client.query('insert into "${schema}".item (id, name) values ($1, $2)', [index, 'item ' + index])
await client.end()
`,
        // one round trip per migration: its statement and its ledger row in one transaction
        ledgerFloor: `import pg from 'pg'
const client = new pg.Client({ connectionString: ${literal(url)} })
await client.connect()
for (let index = 1; index <= ${COUNT}; index++)
  await client.query(\`begin; insert into "${schema}".item (id, name) values (\${index}, 'item \${index}'); insert into "${schema}".ledger (id, applied_at) values ('app/\${index}', now()); commit\`)
await client.end()
`,
        async cleanup() {
          const client = new pg.Client({ connectionString: url })
          await client.connect()
          await client.query(`drop schema "${schema}" cascade`)
          await client.end()
        },
      }
    },
  },
  {
    name: 'redis',
    imports: "import { redisStore } from '@flux/redis'",
    variable: 'FLUX_TEST_REDIS_URL',
    async create() {
      const url = env.FLUX_TEST_REDIS_URL!
      const prefix = unique('floors')
      const Redis = (await import(join(root, LINKS.ioredis!, 'built/index.js'))).default
      return {
        config: `redisStore({ url: ${literal(url)}, prefix: ${literal(prefix)} })`,
        write: (index) => `await store.redis.set('${prefix}:item:${index}', 'item ${index}')`,
        floor: `import Redis from 'ioredis'
const redis = new Redis(${literal(url)})
for (let index = 1; index <= ${COUNT}; index++) await redis.set('${prefix}:item:' + index, 'item ' + index)
redis.disconnect()
`,
        ledgerFloor: `import Redis from 'ioredis'
const redis = new Redis(${literal(url)})
for (let index = 1; index <= ${COUNT}; index++) {
  await redis.set('${prefix}:item:' + index, 'item ' + index)
  await redis.hset('${prefix}:ledger', 'app/' + index, JSON.stringify({ status: 'applied', at: new Date().toISOString() }))
}
redis.disconnect()
`,
        async cleanup() {
          const redis = new Redis(url)
          const keys = await redis.keys(`*${prefix}*`)
          if (keys.length) await redis.del(...keys)
          redis.disconnect()
        },
      }
    },
  },
  {
    name: 'mongo',
    imports: "import { mongoStore } from '@flux/mongo'",
    variable: 'FLUX_TEST_MONGO_URL',
    async create() {
      const url = env.FLUX_TEST_MONGO_URL!
      const database = unique('floors')
      const { MongoClient } = await import(join(root, LINKS.mongodb!, 'lib/index.js'))
      const config = (to: string) => `mongoStore({ url: ${literal(to)}, database: ${literal(database)} })`
      return {
        config: config(url),
        write: (index) =>
          `await store.db.collection('item').insertOne({ _id: ${index}, name: 'item ${index}' }, store.session ? { session: store.session } : {})`,
        floor: `import { MongoClient } from 'mongodb'
const client = new MongoClient(${literal(url)})
const items = client.db(${literal(database)}).collection('item')
for (let index = 1; index <= ${COUNT}; index++) await items.insertOne({ _id: index, name: 'item ' + index })
await client.close()
`,
        ledgerFloor: `import { MongoClient } from 'mongodb'
const client = new MongoClient(${literal(url)})
const items = client.db(${literal(database)}).collection('item')
const ledger = client.db(${literal(database)}).collection('ledger')
for (let index = 1; index <= ${COUNT}; index++) {
  await items.insertOne({ _id: index, name: 'item ' + index })
  await ledger.insertOne({ _id: 'app/' + index, status: 'applied', at: new Date() })
}
await client.close()
`,
        upstream: hostPort(url),
        through: (port) => config(withPort(url, port)),
        async cleanup() {
          const client = new MongoClient(url)
          await client.db(database).dropDatabase()
          await client.close()
        },
      }
    },
  },
  {
    name: 's3',
    imports: "import { s3Store } from '@flux/s3'",
    variable: 'FLUX_TEST_S3_ENDPOINT',
    async create() {
      const { endpoint, bucket, region } = s3Settings()
      const prefix = `${unique('floors')}/`
      const s3 = await import(join(root, LINKS['@aws-sdk/client-s3']!, 'dist-cjs/index.js'))
      const config = (to: string) =>
        `s3Store({ bucket: ${literal(bucket)}, prefix: ${literal(prefix)}, endpoint: ${literal(to)}, region: ${literal(region)}, forcePathStyle: true })`
      return {
        config: config(endpoint),
        write: (index) => `await store.put('items/${index}', 'item ${index}')`,
        floor: `import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
const client = new S3Client({ endpoint: ${literal(endpoint)}, region: ${literal(region)}, forcePathStyle: true })
for (let index = 1; index <= ${COUNT}; index++)
  await client.send(new PutObjectCommand({ Bucket: ${literal(bucket)}, Key: ${literal(prefix)} + 'items/' + index, Body: 'item ' + index }))
client.destroy()
`,
        ledgerFloor: `import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
const client = new S3Client({ endpoint: ${literal(endpoint)}, region: ${literal(region)}, forcePathStyle: true })
for (let index = 1; index <= ${COUNT}; index++) {
  await client.send(new PutObjectCommand({ Bucket: ${literal(bucket)}, Key: ${literal(prefix)} + 'items/' + index, Body: 'item ' + index }))
  await client.send(new PutObjectCommand({ Bucket: ${literal(bucket)}, Key: ${literal(prefix)} + 'ledger/' + index, Body: JSON.stringify({ status: 'applied', at: new Date().toISOString() }) }))
}
client.destroy()
`,
        upstream: hostPort(endpoint),
        through: (port) => config(`http://127.0.0.1:${port}`),
        async cleanup() {
          const client = new s3.S3Client({ endpoint, region, forcePathStyle: true })
          for (;;) {
            const page = await client.send(new s3.ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
            const keys = (page.Contents ?? []).map((object: { Key: string }) => ({ Key: object.Key }))
            if (!keys.length) break
            await client.send(new s3.DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }))
          }
          client.destroy()
        },
      }
    },
  },
]
const STORES = ALL_STORES.filter((store) => !ONLY || ONLY.includes(store.name))

const pad = (index: number) => String(index).padStart(4, '0')

/** A project of `count` migrations of store `main` in `dir`, and its floor script. */
async function writeProject(dir: string, store: Store, namespace: Namespace, count: number, config = namespace.config) {
  await mkdir(join(dir, 'migrations'), { recursive: true })
  await mkdir(join(dir, 'node_modules', '@flux'), { recursive: true })
  await mkdir(join(dir, 'node_modules', '@aws-sdk'), { recursive: true })
  for (const [name, path] of Object.entries(LINKS)) {
    await symlink(join(root, path), join(dir, 'node_modules', name)).catch((error) => {
      if (error.code !== 'EEXIST') throw error
    })
  }
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ private: true, type: 'module' })}\n`)
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
${store.imports}

export default defineConfig({ stores: { main: ${config} } })
`,
  )
  for (let index = 1; index <= count; index++) {
    const name = `${pad(index)}_item_${pad(index)}`
    if (store.sql) {
      await writeFile(
        join(dir, 'migrations', `${name}.sql`),
        `-- flux:store main\n-- flux:up\n${namespace.write(index)};\n`,
      )
    } else {
      await writeFile(
        join(dir, 'migrations', `${name}.ts`),
        `import { defineMigration } from '@flux/core'

export default defineMigration({
  store: 'main',
  async up({ store }) {
    ${namespace.write(index)}
  },
})
`,
      )
    }
  }
  await writeFile(join(dir, 'floor.mjs'), namespace.floor)
}

/**
 * The environment of a process in `cwd`: flux keeps Node's compile cache (its bin enables it) in
 * the project, removed with it, rather than adding a file per migration to the system's
 * temporary folder at every run; it is as cold there on a first run. The floors have none.
 */
const envIn = (args: string[], cwd: string) =>
  args[0] === fluxBin ? { ...env, NODE_COMPILE_CACHE: join(cwd, '.node-compile-cache') } : env

/** Runs a whole process; seconds it took. Fails loudly when it fails. */
function run(args: string[], cwd: string, wrapper: string[] = []): number {
  const started = performance.now()
  const [command, ...rest] = [...wrapper, process.execPath, ...args]
  const result = spawnSync(command!, rest, {
    cwd,
    env: envIn(args, cwd),
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  })
  const seconds = (performance.now() - started) / 1000
  if (result.status !== 0) throw new Error(`${args.join(' ')} in ${cwd} failed (${result.status}):\n${result.stderr}`)
  return seconds
}

/** As {@link run}, without blocking this process: the counting proxy runs in it. */
async function runAsync(args: string[], cwd: string): Promise<void> {
  const child = spawn(process.execPath, args, { cwd, env: envIn(args, cwd), stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  const [status] = await once(child, 'close')
  if (status !== 0) throw new Error(`${args.join(' ')} in ${cwd} failed (${status}):\n${stderr}`)
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

const available = (store: Store) => !store.variable || Boolean(env[store.variable])

async function timeStore(
  base: string,
  store: Store,
): Promise<{ flux: number[]; floor: number[]; idle: number[]; durable: number[]; ledger: number[] }> {
  const figures = {
    flux: [] as number[],
    floor: [] as number[],
    idle: [] as number[],
    durable: [] as number[],
    ledger: [] as number[],
  }
  for (let round = 0; round < RUNS; round++) {
    const dir = await mkdtemp(join(base, `${store.name}-`))
    const namespace = await store.create(dir)
    try {
      await writeProject(dir, store, namespace, COUNT)
      const fluxFirst = round % 2 === 0
      // each on a namespace of its own: the floor writes other keys than flux's migrations
      const floorNamespace = await store.create(await mkdtemp(join(base, `${store.name}-floor-`)))
      try {
        const floorDir = await mkdtemp(join(base, `${store.name}-floor-`))
        await writeFile(join(floorDir, 'floor.mjs'), floorNamespace.floor)
        await writeProject(floorDir, store, floorNamespace, 0)
        const order = fluxFirst ? ['flux', 'floor'] : ['floor', 'flux']
        for (const which of order) {
          if (which === 'flux') figures.flux.push(run([fluxBin, 'up'], dir))
          else figures.floor.push(run(['floor.mjs'], floorDir))
        }
        if (floorNamespace.durableFloor) {
          const durableDir = await mkdtemp(join(base, `${store.name}-durable-`))
          const durableNamespace = await store.create(durableDir)
          try {
            await writeFile(join(durableDir, 'durable.mjs'), durableNamespace.durableFloor!)
            figures.durable.push(run(['durable.mjs'], durableDir))
          } finally {
            await durableNamespace.cleanup()
          }
        }
        const ledgerDir = await mkdtemp(join(base, `${store.name}-ledger-`))
        const ledgerNamespace = await store.create(ledgerDir)
        try {
          await writeFile(join(ledgerDir, 'ledger.mjs'), ledgerNamespace.ledgerFloor)
          await writeProject(ledgerDir, store, ledgerNamespace, 0)
          figures.ledger.push(run(['ledger.mjs'], ledgerDir))
        } finally {
          await ledgerNamespace.cleanup()
        }
        // again, with every migration applied: loading the project and its ledger, no step
        figures.idle.push(run([fluxBin, 'up'], dir))
      } finally {
        await floorNamespace.cleanup()
      }
    } finally {
      await namespace.cleanup()
    }
  }
  return figures
}

async function timings(base: string): Promise<void> {
  console.log(
    `${COUNT} trivial migrations per store, one write each; median of ${RUNS} runs; seconds per whole process; ${cpus().length} CPUs; load average ${loadavg()[0]!.toFixed(2)} at the start`,
  )
  console.log('')
  console.log(
    `${'store'.padEnd(7)}${'flux up'.padStart(10)}${'floor'.padStart(10)}${'flux/floor'.padStart(12)}${'+ ledger'.padStart(10)}${'flux/that'.padStart(11)}${'up again'.padStart(10)}   per migration: flux, floor, flux without loading`,
  )
  const durableNotes: string[] = []
  for (const store of STORES) {
    if (!available(store)) {
      console.log(`${store.name.padEnd(7)}skipped: ${store.variable} is not set`)
      continue
    }
    const { flux, floor, idle, durable, ledger } = await timeStore(base, store)
    const [fluxSeconds, floorSeconds, idleSeconds, ledgerSeconds] = [
      median(flux),
      median(floor),
      median(idle),
      median(ledger),
    ]
    const perMigration = (seconds: number) => `${((seconds * 1000) / COUNT).toFixed(2)} ms`
    console.log(
      `${store.name.padEnd(7)}${fluxSeconds.toFixed(2).padStart(10)}${floorSeconds.toFixed(2).padStart(10)}${`${(fluxSeconds / floorSeconds).toFixed(2)}×`.padStart(12)}${ledgerSeconds.toFixed(2).padStart(10)}${`${(fluxSeconds / ledgerSeconds).toFixed(2)}×`.padStart(11)}${idleSeconds.toFixed(2).padStart(10)}   ${perMigration(fluxSeconds)}, ${perMigration(floorSeconds)}, ${perMigration(fluxSeconds - idleSeconds)}`,
    )
    if (durable.length > 0) {
      const durableSeconds = median(durable)
      durableNotes.push(
        `${store.name}: against a floor whose writes are durable too (each file written, fsynced, closed, as flux's own writes are): floor ${durableSeconds.toFixed(2)} s, ${perMigration(durableSeconds)} per write; flux/durable floor ${(fluxSeconds / durableSeconds).toFixed(2)}×`,
      )
    }
  }
  for (const note of durableNotes) console.log(note)
  console.log('')
  console.log(
    `(floor: a bare-driver script doing the same ${COUNT} writes one after another, nothing else; target flux/floor ≤ 2×. + ledger: the same script with each write followed by one write recording it (a ledger row in the write's transaction on pg, a line appended durably after the durable file on fs, a hash field, a document, an object elsewhere), the least a tool that knows what it applied must add; flux/that: flux against it. up again: \`flux up\` once all are applied, which loads the ${COUNT} migrations and reads the ledger; flux without loading: (flux up − up again) / ${COUNT}, what the steps themselves cost. Load average ${loadavg()[0]!.toFixed(2)} at the end: other work on this machine shows in the figures.)`,
  )
}

// --trips ---------------------------------------------------------------------------------------

/** What went through a counting proxy, by kind of request. */
type Counts = Map<string, number>

/**
 * A TCP proxy that counts the requests clients send: HTTP request lines (`PUT ledger.json`), or
 * MongoDB wire messages by command name (`insert`, `update`, `find`…).
 */
async function countingProxy(target: { host: string; port: number }, protocol: 'http' | 'mongo') {
  const counts: Counts = new Map()
  const count = (kind: string) => counts.set(kind, (counts.get(kind) ?? 0) + 1)
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    count('(connections)')
    const upstream = netConnect(target.port, target.host)
    sockets.add(client).add(upstream)
    let pending = Buffer.alloc(0)
    client.on('data', (chunk: Buffer) => {
      if (protocol === 'http') {
        for (const match of chunk.toString('latin1').matchAll(/(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP\/1\.1\r\n/g)) {
          const path = match[2]!.split('?')[0]!
          // probes of the server's conditional writes each have a name of their own
          const what = path.includes('/.flux/')
            ? path.slice(path.indexOf('/.flux/') + 1).replace(/probe-.*/, 'probe-*')
            : 'blob'
          count(`${match[1]} ${what}`)
        }
      } else {
        pending = Buffer.concat([pending, chunk])
        while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
          count(mongoCommand(pending.subarray(0, pending.readInt32LE(0))))
          pending = pending.subarray(pending.readInt32LE(0))
        }
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => client.write(chunk))
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', end).on('error', end)
    upstream.on('close', end).on('error', end)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    counts,
    async close() {
      for (const socket of sockets) socket.destroy()
      server.close()
    },
  }
}

/** The command of an OP_MSG (its body's first key), or the opcode of another message. */
function mongoCommand(message: Buffer): string {
  const opcode = message.readInt32LE(12)
  if (opcode !== 2013) return `opcode ${opcode}`
  // header (16), flagBits (4), section kind 0 (1), then the body document: length (4), type (1), name
  const start = 16 + 4 + 1 + 4 + 1
  return message.toString('utf8', start, message.indexOf(0, start))
}

/** `--trips` for one store: counts of a run of `count` migrations. */
async function tripsOf(base: string, store: Store, count: number): Promise<Counts> {
  const dir = await mkdtemp(join(base, `${store.name}-trips-`))
  const namespace = await store.create(dir)
  try {
    if (store.name === 'fs') {
      await writeProject(dir, store, namespace, count)
      const log = join(dir, 'strace.log')
      const calls = 'fsync,fdatasync,rename,renameat,renameat2,write,pwrite64,pwritev,openat,unlink,unlinkat'
      run([fluxBin, 'up'], dir, ['strace', '-f', '-qq', '-o', log, '-e', `trace=${calls}`])
      const counts: Counts = new Map()
      // only calls on the store's folder: fsync and write take a descriptor, whose last open says
      // where it points (threads share descriptors, so the thread ids of strace do not matter)
      const inStore = new Map<string, boolean>()
      for (const line of (await readFile(log, 'utf8')).split('\n')) {
        const match = /^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(line)
        if (!match) continue
        const [, call, args, result] = match
        const add = (kind: string) => counts.set(kind, (counts.get(kind) ?? 0) + 1)
        if (call === 'openat') {
          inStore.set(result!, args!.includes('/var/files'))
          // a file opened with O_DSYNC (the fs ledger, to append) makes each write durable: no fsync follows
          const durable = args!.includes('O_DSYNC') ? ' O_DSYNC' : ''
          if (args!.includes('/var/files')) add(`openat ${args!.includes('/.flux/') ? '.flux/' : 'blob'}${durable}`)
        } else if (call!.startsWith('rename') || call!.startsWith('unlink')) {
          if (args!.includes('/var/files')) add(call!)
        } else if (inStore.get(/^(\d+)/.exec(args!)?.[1] ?? '')) add(call!)
      }
      return counts
    }
    const proxy = await countingProxy(namespace.upstream!, store.name === 's3' ? 'http' : 'mongo')
    try {
      await writeProject(dir, store, namespace, count, namespace.through!(proxy.port))
      await runAsync([fluxBin, 'up'], dir)
      return proxy.counts
    } finally {
      await proxy.close()
    }
  } finally {
    await namespace.cleanup()
  }
}

async function trips(base: string): Promise<void> {
  const [small, large] = [20, 40]
  console.log(
    `requests per step: (run of ${large} migrations − run of ${small}) / ${large - small}; one write per migration`,
  )
  for (const store of STORES.filter((each) => ['fs', 's3', 'mongo'].includes(each.name))) {
    if (!available(store)) {
      console.log(`${store.name}: skipped, ${store.variable} is not set`)
      continue
    }
    const [before, after] = [await tripsOf(base, store, small), await tripsOf(base, store, large)]
    const kinds = [...new Set([...before.keys(), ...after.keys()])].sort()
    const perStep = kinds
      .map((kind) => [kind, ((after.get(kind) ?? 0) - (before.get(kind) ?? 0)) / (large - small)] as const)
      .filter(([, value]) => value !== 0)
    const total = perStep.reduce((sum, [, value]) => sum + value, 0)
    console.log(`\n${store.name}: ${total.toFixed(2)} per step`)
    for (const [kind, value] of perStep) console.log(`  ${kind.padEnd(32)}${value.toFixed(2)}`)
    const fixed = kinds.map((kind) => `${kind} ${before.get(kind) ?? 0}`).join(', ')
    console.log(`  (whole run of ${small}: ${fixed})`)
  }
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'flux-floors-'))
  try {
    if (process.argv.includes('--trips')) await trips(base)
    else await timings(base)
  } finally {
    await rm(base, { recursive: true, force: true })
  }
}

await main()
