// Prints @flux/s3 figures on this machine against the S3 test server (MinIO from
// `scripts/services`): the time to apply 1,000 trivial migrations, in process through core's
// migrate() (with the requests flux sends) and end to end through `flux up`; and objects per
// second for a migration that copies 2,000 files from an fs store to the s3 store.
//
//   pnpm --filter @flux/core --filter @flux/fs --filter @flux/cli --filter @flux/s3 build
//   eval "$(scripts/services env)" && node packages/s3/bench/apply.ts
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  S3Client as AwsS3Client,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
} from '@aws-sdk/client-s3'
import { defineConfig, importModule, loadProject, migrate } from '@flux/core'
import { s3Store } from '../src/index.ts'

const MIGRATIONS = 1_000
const FILES = 2_000
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const fluxBin = join(packageDir, '..', '..', 'apps', 'cli', 'bin', 'flux.js')

const env = process.env
if (!env.FLUX_TEST_S3_ENDPOINT) {
  console.error('FLUX_TEST_S3_ENDPOINT is not set: run `scripts/services start`, then `eval "$(scripts/services env)"`')
  process.exit(2)
}
const bucket = env.FLUX_TEST_S3_BUCKET ?? 'flux-test'
const credentialsEnv = {
  AWS_ACCESS_KEY_ID: env.FLUX_TEST_S3_ACCESS_KEY_ID ?? '',
  AWS_SECRET_ACCESS_KEY: env.FLUX_TEST_S3_SECRET_ACCESS_KEY ?? '',
  AWS_REGION: env.FLUX_TEST_S3_REGION ?? 'us-east-1',
}
const run = randomBytes(4).toString('hex')
const dir = join(packageDir, '.flux-tmp', `bench-${run}`)
const storeSource = (prefix: string) =>
  `s3Store({ bucket: process.env.FLUX_TEST_S3_BUCKET, prefix: '${prefix}', endpoint: process.env.FLUX_TEST_S3_ENDPOINT, forcePathStyle: true })`

/** A client of the test server that counts the commands it sends. */
function countingClient() {
  const client = new AwsS3Client({
    endpoint: env.FLUX_TEST_S3_ENDPOINT,
    region: credentialsEnv.AWS_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: credentialsEnv.AWS_ACCESS_KEY_ID,
      secretAccessKey: credentialsEnv.AWS_SECRET_ACCESS_KEY,
    },
  })
  const sent = new Map<string, number>()
  client.middlewareStack.add(
    (next, context) => (args) => {
      const name = context.commandName!.replace(/Command$/, '')
      sent.set(name, (sent.get(name) ?? 0) + 1)
      return next(args)
    },
    { step: 'initialize' },
  )
  return { client, sent }
}

function timeCli(args: string[], cwd: string): { ms: number; stdout: string } {
  const started = performance.now()
  const result = spawnSync(process.execPath, [fluxBin, ...args], {
    cwd,
    env: { ...env, ...credentialsEnv, NO_COLOR: '1' },
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`flux ${args.join(' ')} failed: ${result.stderr}`)
  return { ms: performance.now() - started, stdout: result.stdout }
}

async function project(name: string, stores: string, files: Record<string, string>): Promise<string> {
  const root = join(dir, name)
  await mkdir(join(root, 'migrations'), { recursive: true })
  await writeFile(
    join(root, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'\nimport { fsStore } from '@flux/fs'\nimport { s3Store } from '@flux/s3'\nexport default defineConfig({ stores: { ${stores} }, migrations: './migrations' })\n`,
  )
  for (const [file, source] of Object.entries(files)) await writeFile(join(root, file), source)
  return root
}

async function deletePrefix(client: AwsS3Client, prefix: string): Promise<void> {
  let ContinuationToken: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken }))
    const Objects = (page.Contents ?? []).map((object) => ({ Key: object.Key! }))
    if (Objects.length > 0) await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects } }))
    ContinuationToken = page.NextContinuationToken
  } while (ContinuationToken)
}

const trivial = Object.fromEntries(
  Array.from({ length: MIGRATIONS }, (_, index) => [
    `migrations/${String(index).padStart(4, '0')}_step.ts`,
    `import { defineMigration } from '@flux/core'\nexport default defineMigration({ store: 'media', async up() {} })\n`,
  ]),
)

const COPY = `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'media',
  uses: ['local'],
  async up({ store, stores, checkpoint }) {
    const keys = await stores.local.list('')
    for (let done = (checkpoint.value as { done: number } | undefined)?.done ?? 0; done < keys.length; done += 100) {
      const batch = keys.slice(done, done + 100)
      let next = 0
      const worker = async () => {
        while (next < batch.length) {
          const key = batch[next++]!
          await store.put(key, await stores.local.get(key))
        }
      }
      await Promise.all(Array.from({ length: 16 }, worker))
      await checkpoint.save({ done: done + batch.length })
    }
  },
})
`

const { client: admin } = countingClient()
const prefixes = [`bench-${run}-a/`, `bench-${run}-b/`, `bench-${run}-c/`]
try {
  console.log(
    `@flux/s3 bench on node ${process.versions.node}, ${process.platform}/${process.arch}, ${availableParallelism()} cores, ${env.FLUX_TEST_S3_SERVER ?? 'S3'} at ${env.FLUX_TEST_S3_ENDPOINT}`,
  )

  // 1,000 trivial migrations, in process, counting requests
  const trivialDir = await project('trivial', `media: ${storeSource(prefixes[1]!)}`, trivial)
  const { client, sent } = countingClient()
  const loaded = await loadProject({
    cwd: trivialDir,
    importer: async (file) =>
      file.endsWith('flux.config.ts')
        ? {
            default: defineConfig({
              stores: { media: s3Store({ bucket, prefix: prefixes[0]!, client }) },
              migrations: './migrations',
            }),
          }
        : importModule(file),
  })
  const started = performance.now()
  const report = await migrate(loaded, { direction: 'up' })
  const elapsed = performance.now() - started
  if (report.error || report.steps.length !== MIGRATIONS) throw report.error ?? new Error('not every step ran')
  const ledger = await admin.send(new HeadObjectCommand({ Bucket: bucket, Key: `${prefixes[0]}.flux/ledger.json` }))
  console.log(`${MIGRATIONS} trivial migrations`)
  console.log(
    `  migrate(): ${(elapsed / 1000).toFixed(2)} s (${(elapsed / MIGRATIONS).toFixed(1)} ms each); ledger.json at the end: ${Math.round((ledger.ContentLength ?? 0) / 1024)} KiB`,
  )
  console.log(`  requests: ${[...sent].map(([name, count]) => `${name} ${count}`).join(', ')}`)

  // the same, end to end through the CLI (loads the config and 1,000 files too)
  const up = timeCli(['up'], trivialDir)
  const noop = timeCli(['up'], trivialDir)
  console.log(`  flux up (CLI): ${(up.ms / 1000).toFixed(2)} s   flux up with nothing to do: ${noop.ms.toFixed(0)} ms`)

  // 2,000 files of 1–64 KiB copied from an fs store to the s3 store
  const copyDir = await project(
    'copy',
    `media: ${storeSource(prefixes[2]!)}, local: fsStore({ root: './var/local' })`,
    { 'migrations/001_copy.ts': COPY },
  )
  let bytes = 0
  for (let n = 0; n < FILES; n++) {
    const folder = join(copyDir, 'var', 'local', `trip-${n % 50}`)
    await mkdir(folder, { recursive: true })
    const body = randomBytes(1024 * (1 + (n % 64)))
    bytes += body.length
    await writeFile(join(folder, `photo-${n}.jpg`), body)
  }
  const copy = timeCli(['up', '--json'], copyDir)
  const step = JSON.parse(copy.stdout).steps[0] as { durationMs: number }
  console.log(`copy of ${FILES} files (${(bytes / 1024 / 1024).toFixed(0)} MiB) from an fs store to the s3 store`)
  console.log(
    `  the migration: ${(step.durationMs / 1000).toFixed(2)} s = ${Math.round(FILES / (step.durationMs / 1000))} objects/s, ${(bytes / 1024 / 1024 / (step.durationMs / 1000)).toFixed(1)} MiB/s (16 puts at a time, a checkpoint every 100)`,
  )
  console.log(
    `  flux up (CLI, whole run): ${(copy.ms / 1000).toFixed(2)} s = ${Math.round(FILES / (copy.ms / 1000))} objects/s`,
  )
} finally {
  for (const prefix of prefixes) await deletePrefix(admin, prefix)
  await rm(dir, { recursive: true, force: true })
  admin.destroy()
}
