// Prints flux's speed figures on this machine (`pnpm bench` after `scripts/setup`):
// 1. `flux --help` cold start against bare `node -e 0`, median of 10 (target ≤ 2.5×);
// 2. planning a generated 10,000-migration graph over 5 stores (target < 150 ms);
// 3. `flux up` of 1,000 trivial migrations on an fs store, and `flux up` with nothing to do.
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  buildGraph,
  createPlan,
  defineMigration,
  type LedgerEntry,
  type LoadedMigration,
} from '../packages/core/dist/index.js'

const repo = join(dirname(fileURLToPath(import.meta.url)), '..')
const fluxBin = join(repo, 'apps/cli/bin/flux.js')

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

function timeCommand(args: string[], cwd = repo): number {
  const started = performance.now()
  const result = spawnSync(process.execPath, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
  const elapsed = performance.now() - started
  if (result.status !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr}`)
  return elapsed
}

function startup(): void {
  timeCommand([fluxBin, '--help']) // fills Node's compile cache, as any earlier run would
  const node: number[] = []
  const flux: number[] = []
  for (let run = 0; run < 10; run++) {
    node.push(timeCommand(['-e', '0']))
    flux.push(timeCommand([fluxBin, '--help']))
  }
  const ratio = median(flux) / median(node)
  console.log(
    `startup     node -e 0: ${median(node).toFixed(1)} ms   flux --help: ${median(flux).toFixed(1)} ms   ratio ${ratio.toFixed(2)}× (target ≤ 2.5×)`,
  )
}

function planning(): void {
  const stores = ['catalog', 'photos', 'media', 'cache', 'reviews']
  const up = async () => {}
  const migrations: LoadedMigration[] = []
  for (let index = 0; index < 10_000; index++) {
    const component = `component-${index % 10}`
    const name = `${String(20260101000000 + index)}_step`
    const after =
      index >= 10 && index % 7 === 0
        ? [`component-${(index - 3) % 10}/${String(20260101000000 + index - 3)}_step`]
        : undefined
    migrations.push({
      id: `${component}/${name}`,
      component,
      name,
      file: `/bench/${component}/${name}.ts`,
      displayFile: `${component}/${name}.ts`,
      checksum: `sha256:${index.toString(16).padStart(64, '0')}`,
      definition: defineMigration({ store: stores[index % 5]!, up, ...(after ? { after } : {}) }),
    })
  }
  migrations.sort((a, b) => (a.component < b.component ? -1 : a.component > b.component ? 1 : a.name < b.name ? -1 : 1))
  const ledgers: Record<string, LedgerEntry[]> = Object.fromEntries(stores.map((store) => [store, []]))
  for (const migration of migrations.slice(0, 5_000)) {
    ledgers[migration.definition.store]!.push({
      id: migration.id,
      checksum: migration.checksum,
      status: 'applied',
      appliedAt: new Date(0).toISOString(),
      durationMs: 1,
      runId: 'bench',
      fluxVersion: '0.0.0',
    })
  }
  const storeInfo = Object.fromEntries(stores.map((store) => [store, { kind: 'fs', transactions: false }]))
  const times: number[] = []
  let steps = 0
  for (let run = 0; run < 7; run++) {
    const started = performance.now()
    const graph = buildGraph(migrations, stores)
    const plan = createPlan({ nodes: graph.nodes, ledgers, stores: storeInfo, direction: 'up', leased: stores })
    times.push(performance.now() - started)
    steps = plan.steps.length
  }
  console.log(
    `planning    10,000 migrations, 5 stores, ${steps} pending: build graph + plan median ${median(times).toFixed(1)} ms (target < 150 ms)`,
  )
}

async function applyMany(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-bench-'))
  try {
    await writeFile(
      join(dir, 'flux.config.ts'),
      "import { defineConfig } from '@flux/core'\nimport { fsStore } from '@flux/fs'\nexport default defineConfig({ stores: { files: fsStore({ root: './var' }) } })\n",
    )
    await mkdir(join(dir, 'migrations'))
    for (let index = 0; index < 1_000; index++) {
      await writeFile(
        join(dir, 'migrations', `${String(index).padStart(4, '0')}_step.ts`),
        `import { defineMigration } from '@flux/core'\nexport default defineMigration({ store: 'files', async up({ store }) { await store.put('k${index}', '${index}') } })\n`,
      )
    }
    const up = timeCommand([fluxBin, 'up'], dir)
    const noop = timeCommand([fluxBin, 'up'], dir)
    const status = timeCommand([fluxBin, 'status'], dir)
    console.log(
      `apply       flux up of 1,000 fs migrations: ${(up / 1000).toFixed(2)} s (${(up / 1000).toFixed(2)} ms each)   up with nothing to do: ${noop.toFixed(0)} ms   status: ${status.toFixed(0)} ms`,
    )
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

console.log(`flux bench on node ${process.versions.node}, ${process.platform}/${process.arch}`)
startup()
planning()
await applyMany()
