// The data toolkit against hand-written copy scripts (`pnpm build`, `scripts/services start`,
// `eval "$(scripts/services env)"`, then `pnpm bench:copy`): (a) rows of a pg table into a
// mongo collection, (b) small files of an fs store into an s3 store, each at two sizes, so
// that peak memory can be seen not to grow with the size. "flux" is `flux up` of a project
// whose one migration calls `copy()` (with its checkpoints, progress and `verifyCopy` left
// out: the script does not check either); "script" is the batch loop a user writes with the bare
// drivers: keyset pages of 1,000 rows, `insertMany` each; or 16 `PutObject` at a time.
// Each figure is a whole process under /usr/bin/time (wall time, peak RSS), the median of
// FLUX_BENCH_RUNS runs (default 3), each into a fresh mongo database or s3 prefix; the two
// take turns going first. Sizes: FLUX_BENCH_ROWS (default 50000,200000) and
// FLUX_BENCH_BLOBS (default 5000,20000).
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import pg from 'pg'

const here = dirname(fileURLToPath(import.meta.url))
const fluxBin = join(here, '../apps/cli/bin/flux.js')
const RUNS = Number(process.env.FLUX_BENCH_RUNS ?? 3)
const ROW_SIZES = (process.env.FLUX_BENCH_ROWS ?? '50000,200000').split(',').filter(Boolean).map(Number)
const BLOB_SIZES = (process.env.FLUX_BENCH_BLOBS ?? '5000,20000').split(',').filter(Boolean).map(Number)
const env = process.env
for (const name of ['FLUX_TEST_PG_URL', 'FLUX_TEST_MONGO_URL', 'FLUX_TEST_S3_ENDPOINT']) {
  if (!env[name]) throw new Error(`${name} is not set: run \`eval "$(scripts/services env)"\` first`)
}

/** A driver's entry as a file URL, from the package that depends on it. */
const driver = (pkg: string, name: string) =>
  pathToFileURL(createRequire(join(here, '..', 'packages', pkg, 'package.json')).resolve(name)).href
const MONGODB = driver('mongo', 'mongodb')
const S3_SDK = driver('s3', '@aws-sdk/client-s3')
const PG = pathToFileURL(createRequire(join(here, 'package.json')).resolve('pg')).href

const S3_OPTIONS = `{ bucket: process.env.FLUX_TEST_S3_BUCKET, prefix: process.env.BENCH_PREFIX, endpoint: process.env.FLUX_TEST_S3_ENDPOINT, forcePathStyle: true }`

const FLUX_ROWS = `import { copy, defineMigration } from '@flux/core'
import { mongoDocuments } from '@flux/mongo'
import { pgRows } from '@flux/pg'
export default defineMigration({
  store: 'reviews',
  uses: ['main'],
  transaction: false,
  async up(ctx) {
    await copy({
      from: pgRows(ctx.stores.main, { table: process.env.BENCH_TABLE, key: 'id' }),
      to: mongoDocuments(ctx.store, 'reviews'),
      transform: (row) => ({ _id: row.id, hotel: row.hotel_id, stars: row.stars, text: row.body }),
      context: ctx,
    })
  },
})
`

const SCRIPT_ROWS = `import pg from '${PG}'
import { MongoClient } from '${MONGODB}'
const pool = new pg.Pool({ connectionString: process.env.FLUX_TEST_PG_URL })
const mongo = await new MongoClient(process.env.FLUX_TEST_MONGO_URL).connect()
const reviews = mongo.db(process.env.BENCH_DATABASE).collection('reviews')
let last = 0
for (;;) {
  const { rows } = await pool.query(\`select * from \${process.env.BENCH_TABLE} where id > $1 order by id limit 1000\`, [last])
  if (rows.length === 0) break
  await reviews.insertMany(rows.map((row) => ({ _id: row.id, hotel: row.hotel_id, stars: row.stars, text: row.body })), { ordered: false })
  last = rows[rows.length - 1].id
}
await pool.end()
await mongo.close()
`

const FLUX_BLOBS = `import { blobs, copy, defineMigration } from '@flux/core'
export default defineMigration({
  store: 'media',
  uses: ['local'],
  async up(ctx) {
    await copy({ from: blobs(ctx.stores.local), to: blobs(ctx.store, { concurrency: 16 }), batchSize: 200, context: ctx })
  },
})
`

const SCRIPT_BLOBS = `import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PutObjectCommand, S3Client } from '${S3_SDK}'
const root = process.env.BENCH_ROOT
const s3 = new S3Client({ endpoint: process.env.FLUX_TEST_S3_ENDPOINT, region: process.env.FLUX_TEST_S3_REGION, forcePathStyle: true,
  credentials: { accessKeyId: process.env.FLUX_TEST_S3_ACCESS_KEY_ID, secretAccessKey: process.env.FLUX_TEST_S3_SECRET_ACCESS_KEY } })
const keys = (await readdir(root, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile())
  .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1)).sort()
let next = 0
await Promise.all(Array.from({ length: 16 }, async () => {
  while (next < keys.length) {
    const key = keys[next++]
    await s3.send(new PutObjectCommand({ Bucket: process.env.FLUX_TEST_S3_BUCKET, Key: process.env.BENCH_PREFIX + key, Body: await readFile(join(root, key)) }))
  }
}))
s3.destroy()
`

interface Sample {
  seconds: number
  rssMb: number
}

/** Runs `node args` in `cwd` under /usr/bin/time: its wall time and peak RSS. */
function timed(args: string[], cwd: string, extra: Record<string, string>): Sample {
  const result = spawnSync('/usr/bin/time', ['-f', 'BENCH %e %M', process.execPath, ...args], {
    cwd,
    env: { ...env, ...extra, NO_COLOR: '1' },
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  const line = result.stderr.split('\n').find((text) => text.startsWith('BENCH '))
  if (result.status !== 0 || !line)
    throw new Error(`${args.join(' ')} failed (${result.status}):\n${result.stderr.slice(-3000)}`)
  const [, seconds, kilobytes] = line.split(' ')
  return { seconds: Number(seconds), rssMb: Number(kilobytes) / 1024 }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

async function project(dir: string, stores: string, migration: string) {
  await mkdir(join(dir, 'migrations'), { recursive: true })
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
${stores}
`,
  )
  await writeFile(join(dir, 'migrations', '001_copy.ts'), migration)
  await writeFile(join(dir, 'script.mjs'), '')
}

interface Row {
  what: string
  size: number
  flux: Sample
  script: Sample
}

async function rowsCase(size: number, work: string): Promise<Row> {
  const pool = new pg.Pool({ connectionString: env.FLUX_TEST_PG_URL })
  const schema = `bench_copy_${randomBytes(4).toString('hex')}`
  const table = `${schema}.review`
  await pool.query(`create schema ${schema}`)
  await pool.query(`create table ${table} (id int primary key, hotel_id int not null, stars int, body text)`)
  await pool.query(
    `insert into ${table} select n, n % 97, n % 5, 'review ' || n || ' ' || repeat('x', 80) from generate_series(1, ${size}) as n`,
  )
  const samples: Record<'flux' | 'script', Sample[]> = { flux: [], script: [] }
  const { MongoClient } = await import(MONGODB)
  const mongo = await new MongoClient(env.FLUX_TEST_MONGO_URL).connect()
  try {
    for (let run = 0; run < RUNS; run++) {
      for (const tool of run % 2 === 0 ? (['flux', 'script'] as const) : (['script', 'flux'] as const)) {
        const database = `bench_copy_${randomBytes(4).toString('hex')}`
        const dir = join(work, database)
        await project(
          dir,
          `import { mongoStore } from '@flux/mongo'
import { pgStore } from '@flux/pg'
export default defineConfig({ stores: {
  main: pgStore({ url: process.env.FLUX_TEST_PG_URL, schema: '${schema}' }),
  reviews: mongoStore({ url: process.env.FLUX_TEST_MONGO_URL, database: '${database}' }),
} })`,
          FLUX_ROWS,
        )
        await writeFile(join(dir, 'script.mjs'), SCRIPT_ROWS)
        const extra = { BENCH_TABLE: table, BENCH_DATABASE: database }
        samples[tool].push(timed(tool === 'flux' ? [fluxBin, 'up'] : ['script.mjs'], dir, extra))
        const copied = await mongo.db(database).collection('reviews').estimatedDocumentCount()
        if (copied !== size) throw new Error(`${tool} copied ${copied} of ${size} rows`)
        await mongo.db(database).dropDatabase()
      }
    }
  } finally {
    await mongo.close()
    await pool.query(`drop schema ${schema} cascade`)
    await pool.end()
  }
  return { what: 'pg → mongo rows', size, ...summary(samples) }
}

async function blobsCase(size: number, work: string): Promise<Row> {
  const root = join(work, `files-${size}`)
  for (let n = 0; n < size; n++) {
    const file = join(root, `photos/${String(n % 100).padStart(2, '0')}/photo-${String(n).padStart(6, '0')}.jpg`)
    if (n % 100 === n) await mkdir(dirname(file), { recursive: true })
    await writeFile(file, Buffer.alloc(512 + (n % 1024), n % 251))
  }
  const samples: Record<'flux' | 'script', Sample[]> = { flux: [], script: [] }
  const { S3Client, ListObjectsV2Command, DeleteObjectsCommand } = await import(S3_SDK)
  const s3 = new S3Client({
    endpoint: env.FLUX_TEST_S3_ENDPOINT,
    region: env.FLUX_TEST_S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.FLUX_TEST_S3_ACCESS_KEY_ID, secretAccessKey: env.FLUX_TEST_S3_SECRET_ACCESS_KEY },
  })
  const bucket = env.FLUX_TEST_S3_BUCKET
  const cleanUp = async (prefix: string) => {
    let count = 0
    for (;;) {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }))
      const objects = (page.Contents ?? []).map((object: { Key: string }) => ({ Key: object.Key }))
      if (objects.length === 0) return count
      count += objects.filter((object: { Key: string }) => !object.Key.includes('/.flux/')).length
      await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects, Quiet: true } }))
    }
  }
  for (let run = 0; run < RUNS; run++) {
    for (const tool of run % 2 === 0 ? (['flux', 'script'] as const) : (['script', 'flux'] as const)) {
      const prefix = `bench-copy-${randomBytes(4).toString('hex')}/`
      const dir = join(work, prefix.slice(0, -1))
      await project(
        dir,
        `import { fsStore } from '@flux/fs'
import { s3Store } from '@flux/s3'
export default defineConfig({ stores: {
  local: fsStore({ root: ${JSON.stringify(root)} }),
  media: s3Store(${S3_OPTIONS}),
} })`,
        FLUX_BLOBS,
      )
      await writeFile(join(dir, 'script.mjs'), SCRIPT_BLOBS)
      const extra = {
        BENCH_ROOT: root,
        BENCH_PREFIX: prefix,
        AWS_ACCESS_KEY_ID: env.FLUX_TEST_S3_ACCESS_KEY_ID!,
        AWS_SECRET_ACCESS_KEY: env.FLUX_TEST_S3_SECRET_ACCESS_KEY!,
        AWS_REGION: env.FLUX_TEST_S3_REGION ?? 'us-east-1',
      }
      samples[tool].push(timed(tool === 'flux' ? [fluxBin, 'up'] : ['script.mjs'], dir, extra))
      const copied = await cleanUp(prefix)
      if (copied !== size) throw new Error(`${tool} copied ${copied} of ${size} files`)
      // the fs store's own ledger, written into the source folder
      await rm(join(root, '.flux'), { recursive: true, force: true })
    }
  }
  s3.destroy()
  return { what: 'fs → s3 files', size, ...summary(samples) }
}

function summary(samples: Record<'flux' | 'script', Sample[]>) {
  const of = (list: Sample[]) => ({
    seconds: median(list.map((sample) => sample.seconds)),
    rssMb: median(list.map((sample) => sample.rssMb)),
  })
  return { flux: of(samples.flux), script: of(samples.script) }
}

const work = await mkdtemp(join(tmpdir(), 'flux-bench-copy-'))
const results: Row[] = []
try {
  for (const size of ROW_SIZES) results.push(await rowsCase(size, work))
  for (const size of BLOB_SIZES) results.push(await blobsCase(size, work))
} finally {
  await rm(work, { recursive: true, force: true })
}

const [one, five, fifteen] = loadavg().map((value) => value.toFixed(2))
console.log(
  `bench:copy — ${cpus().length} CPUs, load ${one} ${five} ${fifteen}, median of ${RUNS} run(s), whole processes`,
)
console.log('')
console.log('case               size     flux rows/s  script rows/s  ratio   flux RSS  script RSS')
for (const row of results) {
  const fluxRate = row.size / row.flux.seconds
  const scriptRate = row.size / row.script.seconds
  console.log(
    [
      row.what.padEnd(17),
      String(row.size).padStart(7),
      fluxRate.toFixed(0).padStart(12),
      scriptRate.toFixed(0).padStart(14),
      `${(fluxRate / scriptRate).toFixed(2)}×`.padStart(6),
      `${row.flux.rssMb.toFixed(0)} MB`.padStart(9),
      `${row.script.rssMb.toFixed(0)} MB`.padStart(11),
    ].join('  '),
  )
}
console.log('')
console.log('ratio: flux throughput / script throughput (target ≥ 0.90×); RSS: peak of the whole process')
const [smallRows, largeRows] = results.filter((row) => row.what.startsWith('pg'))
if (smallRows && largeRows)
  console.log(
    `pg → mongo peak RSS ${smallRows.size} → ${largeRows.size} rows: flux ${smallRows.flux.rssMb.toFixed(0)} → ${largeRows.flux.rssMb.toFixed(0)} MB, script ${smallRows.script.rssMb.toFixed(0)} → ${largeRows.script.rssMb.toFixed(0)} MB`,
  )
