// Applies 1,000 trivial migrations (each inserts one document) to a fresh database, and prints
// the time they take and the round trips they cost, counted with the driver's command monitoring.
//
//   scripts/services start && eval "$(scripts/services env)"
//   pnpm --filter @flux/core --filter @flux/cli --filter @flux/mongo build
//   node packages/mongo/bench/apply.ts            # FLUX_BENCH_MIGRATIONS=200 for fewer
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig, importModule, loadProject, migrate } from '@flux/core'
import { MongoClient } from 'mongodb'
import { mongoStore } from '../src/index.ts'

const url = process.env.FLUX_TEST_MONGO_URL
if (!url) {
  console.error('FLUX_TEST_MONGO_URL is not set: run `scripts/services start` and `eval "$(scripts/services env)"`')
  process.exit(2)
}
const count = Number(process.env.FLUX_BENCH_MIGRATIONS ?? 1_000)
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const dir = join(packageDir, '.flux-tmp', `bench-${randomBytes(6).toString('hex')}`)
const databases = [`flux_bench_${randomBytes(6).toString('hex')}`, `flux_bench_${randomBytes(6).toString('hex')}`]

const client = new MongoClient(url, { monitorCommands: true })
const commands = new Map<string, number>()
let counting = false
client.on('commandStarted', (event) => {
  if (counting) commands.set(event.commandName, (commands.get(event.commandName) ?? 0) + 1)
})

try {
  await mkdir(join(dir, 'migrations'), { recursive: true })
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { mongoStore } from '@flux/mongo'
export default defineConfig({
  stores: { docs: mongoStore({ url: process.env.FLUX_TEST_MONGO_URL, database: process.env.FLUX_BENCH_DATABASE }) },
  migrations: './migrations',
})
`,
  )
  for (let index = 0; index < count; index++) {
    await writeFile(
      join(dir, 'migrations', `${String(index).padStart(4, '0')}_step.ts`),
      `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'docs',
  async up({ store }) {
    await store.db.collection('bench').insertOne({ step: ${index} })
  },
})
`,
    )
  }

  // in process, on a client with command monitoring: every command the run sends is counted
  const config = defineConfig({
    stores: { docs: mongoStore({ client, database: databases[0]! }) },
    migrations: './migrations',
  })
  const configFile = join(dir, 'flux.config.ts')
  const loadStarted = performance.now()
  const project = await loadProject({
    cwd: dir,
    importer: (file) => (file === configFile ? Promise.resolve({ default: config }) : importModule(file)),
  })
  const loadMs = performance.now() - loadStarted
  counting = true
  const runStarted = performance.now()
  const report = await migrate(project, { direction: 'up' })
  const runMs = performance.now() - runStarted
  counting = false
  if (report.error || report.steps.length !== count) throw report.error ?? new Error('not every step ran')

  const total = [...commands.values()].reduce((sum, value) => sum + value, 0)
  const byName = [...commands].sort((a, b) => b[1] - a[1])
  console.log(`mongo on ${new URL(url).host}: ${count} trivial migrations (one insertOne each)`)
  console.log(
    `  in process:  load ${(loadMs / 1000).toFixed(2)} s, run ${(runMs / 1000).toFixed(2)} s, ${(runMs / count).toFixed(2)} ms per migration`,
  )
  console.log(
    `  round trips: ${total} commands, ${(total / count).toFixed(2)} per migration (the migration's own insert included)`,
  )
  console.log(`               ${byName.map(([name, value]) => `${name} ${value}`).join(', ')}`)

  // end to end, as a user runs it
  const started = performance.now()
  const cli = spawnSync(process.execPath, [join(packageDir, '..', '..', 'apps', 'cli', 'bin', 'flux.js'), 'up'], {
    cwd: dir,
    env: { ...process.env, FLUX_BENCH_DATABASE: databases[1], NO_COLOR: '1' },
    encoding: 'utf8',
  })
  const cliMs = performance.now() - started
  if (cli.status !== 0) throw new Error(`flux up failed (${cli.status}): ${cli.stderr}`)
  console.log(`  flux up:     ${(cliMs / 1000).toFixed(2)} s wall time for ${count} migrations, process start included`)
} finally {
  for (const database of databases) await client.db(database).dropDatabase()
  await client.close()
  await rm(dir, { recursive: true, force: true })
}
