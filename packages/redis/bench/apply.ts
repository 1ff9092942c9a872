// Prints @flux/redis figures on this machine: for the standalone test server and the test
// cluster, the time to apply 1,000 trivial migrations (each one INCR), in process through
// core's migrate() and end to end through `flux up`, and the commands flux sends per
// migration (its ledger round trips) and per run (ledger reads, lease).
//
//   pnpm --filter @flux/core --filter @flux/cli --filter @flux/redis build
//   eval "$(scripts/services env)" && node packages/redis/bench/apply.ts
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { defineConfig, importModule, loadProject, migrate } from '@flux/core'
import { Cluster, Redis } from 'ioredis'
import { redisStore } from '../src/index.ts'
import * as scripts from '../src/redis-scripts.ts'

const COUNT = 1_000
const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const fluxBin = join(packageDir, '..', '..', 'apps', 'cli', 'bin', 'flux.js')

type Connection = Redis | Cluster

/** Script SHA-1 → its name, to tell ledger scripts from lease scripts. */
const scriptNames = new Map(
  Object.entries(scripts).flatMap(([name, value]) =>
    typeof value === 'object' && value !== null && 'sha' in value ? [[value.sha, name] as const] : [],
  ),
)

/** Counts the commands a client sends, by command (or script) name. */
function countCommands(client: Connection): Map<string, number> {
  const counts = new Map<string, number>()
  const send = client.sendCommand.bind(client)
  client.sendCommand = ((command: { name: string; args: unknown[] }, ...rest: unknown[]) => {
    const name = /^eval/.test(command.name) ? (scriptNames.get(String(command.args[0])) ?? 'EVAL') : command.name
    counts.set(name, (counts.get(name) ?? 0) + 1)
    return (send as (...args: unknown[]) => unknown)(command, ...rest)
  }) as typeof client.sendCommand
  return counts
}

async function deleteMatching(client: Connection, pattern: string): Promise<void> {
  await client.ping() // a cluster client lists its nodes once it is ready
  const masters = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis]
  for (const node of masters) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) await keys.reduce((pipeline, key) => pipeline.unlink(key), node.pipeline()).exec()
    } while (cursor !== '0')
  }
}

function timeCli(args: string[], cwd: string, env: Record<string, string>): number {
  const started = performance.now()
  const result = spawnSync(process.execPath, [fluxBin, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  if (result.status !== 0) throw new Error(`flux ${args.join(' ')} failed: ${result.stderr}`)
  return performance.now() - started
}

async function bench(name: string, connect: () => Connection, storeSource: string): Promise<void> {
  const run = randomBytes(4).toString('hex')
  const dir = join(packageDir, '.flux-tmp', `bench-${run}`)
  const counter = `flux-bench-${run}:counter`
  const client = connect()
  try {
    await mkdir(join(dir, 'migrations'), { recursive: true })
    await writeFile(
      join(dir, 'flux.config.ts'),
      `import { defineConfig } from '@flux/core'\nimport { redisStore } from '@flux/redis'\nexport default defineConfig({ stores: { cache: ${storeSource} } })\n`,
    )
    for (let index = 0; index < COUNT; index++) {
      await writeFile(
        join(dir, 'migrations', `${String(index).padStart(4, '0')}_step.ts`),
        `import { defineMigration } from '@flux/core'\nexport default defineMigration({ store: 'cache', async up({ store }) { await store.redis.incr(process.env.BENCH_COUNTER) } })\n`,
      )
    }
    process.env.BENCH_COUNTER = counter

    // in process, with a client whose commands are counted
    const prefix = `flux-bench-${run}-a`
    const project = await loadProject({
      cwd: dir,
      importer: async (file) =>
        file.endsWith('flux.config.ts')
          ? { default: defineConfig({ stores: { cache: redisStore({ client, prefix }) } }) }
          : importModule(file),
    })
    const counts = countCommands(client)
    const started = performance.now()
    const report = await migrate(project, { direction: 'up' })
    const elapsed = performance.now() - started
    const sent = new Map(counts)
    if (report.error || report.steps.length !== COUNT) throw report.error ?? new Error('not every step ran')
    const applied = Number(await client.get(counter))
    const count = (key: string) => sent.get(key) ?? 0

    // end to end, through the CLI: loads the config and 1,000 files too
    const env = { BENCH_COUNTER: counter, BENCH_PREFIX: `flux-bench-${run}-b` }
    const up = timeCli(['up'], dir, env)
    const noop = timeCli(['up'], dir, env)

    console.log(`redis ${name}`)
    console.log(
      `  migrate() of ${COUNT} trivial migrations: ${elapsed.toFixed(0)} ms (${(elapsed / COUNT).toFixed(2)} ms each; ${applied} INCRs seen)`,
    )
    console.log(
      `  flux up (CLI, loads 1,000 files): ${(up / 1000).toFixed(2)} s   flux up with nothing to do: ${noop.toFixed(0)} ms`,
    )
    console.log(
      `  ledger round trips per migration: ${(count('WRITE_ENTRIES') / COUNT).toFixed(2)} (running, then applied with the next one's running)` +
        `   per run: ${count('READ_LEDGER')} ledger reads, ${count('ACQUIRE_LEASE')} lease acquire, ${count('RENEW_LEASE')} renewals, ${count('RELEASE_LEASE')} release`,
    )
    const names = new Set(scriptNames.values())
    const other = [...sent].filter(([key]) => !names.has(key))
    console.log(`  other commands: ${other.map(([key, value]) => `${key} ${value}`).join(', ') || 'none'}`)
  } finally {
    await deleteMatching(client, `{flux-bench-${run}-*`)
    await deleteMatching(client, `flux-bench-${run}:*`)
    await client.quit()
    await rm(dir, { recursive: true, force: true })
  }
}

const url = process.env.FLUX_TEST_REDIS_URL
const nodes = process.env.FLUX_TEST_REDIS_CLUSTER?.split(',')
if (!url || !nodes) {
  console.error(
    'FLUX_TEST_REDIS_URL / FLUX_TEST_REDIS_CLUSTER are not set: run `scripts/services start`, then `eval "$(scripts/services env)"`',
  )
  process.exit(2)
}
console.log(`@flux/redis bench on node ${process.versions.node}, ${process.platform}/${process.arch}`)
await bench(
  `standalone ${url.replace(/^.*@|^redis:\/\//, '')}`,
  () => new Redis(url),
  'redisStore({ url: process.env.FLUX_TEST_REDIS_URL, prefix: process.env.BENCH_PREFIX })',
)
await bench(
  `cluster ${nodes.join(',')}`,
  () => new Cluster(nodes),
  "redisStore({ cluster: { nodes: process.env.FLUX_TEST_REDIS_CLUSTER.split(',') }, prefix: process.env.BENCH_PREFIX })",
)
