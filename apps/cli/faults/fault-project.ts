// A project for one fault test: one store `db` in a fresh namespace, migrations that record
// their application in it, and the built `flux` run on it as a user (or an operator) would.
import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StatusRow } from '@flux/core'
import { describeWithServer } from '@flux/core/testing'
import { afterEach, describe, expect } from 'vitest'
import { exists, flux, type Result, start, waitFor } from '../test/run-flux.ts'
import { countByName, type FaultStore, type Namespace } from './store-kit.ts'

export { exists, finish, type Result, waitFor } from '../test/run-flux.ts'

const CLI = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** Where fault projects live: inside the CLI package, whose devDependencies give their configs `@flux/pg` and the others. */
const TMP = join(CLI, '.flux-tmp')
/** The store's name in every fault project's config. */
export const STORE = 'db'

const SERVICES_HINT = 'start the test servers with `scripts/services start`, then run `eval "$(scripts/services env)"`'

/** A describe() per store: for a store with a server, failing under CI without it and skipped elsewhere. */
export function describeStore(store: FaultStore, title: string, fn: () => void): void {
  const name = `${title}: ${store.name}`
  if (store.variable) describeWithServer(store.variable, name, fn, SERVICES_HINT)
  else describe(name, fn)
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/**
 * Statements for a migration that pauses the first runner to start it: it writes started.flag
 * in the project, then waits until go.flag appears there. Any later runner runs straight through.
 */
export function pauseFirstRunner(dir: string): string {
  const [started, go] = [JSON.stringify(join(dir, 'started.flag')), JSON.stringify(join(dir, 'go.flag'))]
  return `if (!existsSync(${started})) {
      writeFileSync(${started}, String(process.pid))
      while (!existsSync(${go})) await sleep(20)
    }`
}

export interface MigrationParts {
  /** Statements before the migration's effect. */
  before?: string
  /** Statements after it. */
  after?: string
}

/** A migration of store `db` that records its application with `effect`, between `before` and `after`. */
export function migrationSource(effect: string, parts: MigrationParts = {}): string {
  return `import { appendFileSync, existsSync, writeFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
export default defineMigration({
  store: ${JSON.stringify(STORE)},
  async up({ store }) {
    ${parts.before ?? ''}
    ${effect}
    ${parts.after ?? ''}
  },
})
`
}

/** `001_step` … : names that sort in order. */
export function migrationNames(count: number, label = 'step'): string[] {
  return Array.from({ length: count }, (_, index) => `${String(index + 1).padStart(3, '0')}_${label}`)
}

export interface FaultProjectOptions {
  /** The config's `lease` value, like `{ ttlMs: 1500 }`. */
  lease: string
  /** A proxy's port, to reach the store's server through it. */
  port?: number
  /** Migration sources by name (without `.ts`), given the namespace's effect statement and the project's folder. */
  migrations: (effect: (name: string) => string, dir: string) => Record<string, string>
}

export interface FaultProject {
  readonly dir: string
  readonly namespace: Namespace
  /** Migration names, in order. */
  readonly names: string[]
  /** A path in the project's folder. */
  path(name: string): string
  flux(args: string[]): Promise<Result>
  start(args: string[]): ChildProcess
  /** `flux status --json`, by migration name. */
  rows(): Promise<Map<string, StatusRow>>
  /** How many times each migration was applied, read from the store (not the ledger). */
  counts(): Promise<Map<string, number>>
  /**
   * Runs `up` (or takes the result of one that ran), which must refuse (exit 3) because of
   * dirty migrations, and settles each dirty
   * migration as an operator would: `flux resolve <id> --applied` when the store holds its
   * effect, `--rolled-back` when it does not. Returns them, and those the refusal named.
   */
  refuseAndResolve(refusal?: Result): Promise<{ dirty: string[]; named: string[] }>
  /**
   * Runs `up` until it completes, settling each dirty migration as an operator would:
   * `flux resolve <id> --applied` when the store holds its effect, `--rolled-back` when it does
   * not. Returns the dirty migrations met, and those the refusing `up` named.
   */
  settle(): Promise<{ dirty: string[]; named: string[] }>
  /** Every migration applied in the ledger, and counted exactly once in the store. */
  expectExactlyOnce(): Promise<void>
}

export async function faultProject(store: FaultStore, options: FaultProjectOptions): Promise<FaultProject> {
  const dir = join(TMP, `faults-${store.name}-${randomBytes(5).toString('hex')}`)
  await mkdir(join(dir, 'migrations'), { recursive: true })
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const namespace = await store.create(dir, options.port)
  cleanups.push(() => namespace.cleanup())
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
${store.imports}
export default defineConfig({
  stores: { ${STORE}: ${namespace.config} },
  migrations: './migrations',
  lease: ${options.lease},
})
`,
  )
  const migrations = options.migrations((name) => namespace.effect(name), dir)
  for (const [name, source] of Object.entries(migrations)) {
    await writeFile(join(dir, 'migrations', `${name}.ts`), source)
  }
  const names = Object.keys(migrations).sort()

  const project: FaultProject = {
    dir,
    namespace,
    names,
    path: (name) => join(dir, name),
    flux: (args) => flux(args, dir),
    start: (args) => start(args, dir),
    async rows() {
      const result = await flux(['status', '--json'], dir)
      if (result.code !== 0) throw new Error(`flux status exited ${result.code}: ${result.stderr}`)
      const rows = JSON.parse(result.stdout).migrations as StatusRow[]
      return new Map(rows.map((row) => [row.name, row]))
    },
    async counts() {
      return countByName(await namespace.effects())
    },
    async refuseAndResolve(refusal) {
      const up = refusal ?? (await flux(['up'], dir))
      if (up.code !== 3)
        throw new Error(`flux up exited ${up.code} where dirty migrations should stop it:\n${up.stderr}`)
      // one after the other: PGlite lets one process at a time open its directory
      const rows = await project.rows()
      const counts = await project.counts()
      const dirty = names.filter((name) => rows.get(name)?.status === 'dirty')
      if (dirty.length === 0) throw new Error(`flux up exited 3 with no dirty migration:\n${up.stderr}`)
      for (const name of dirty) {
        const as = (counts.get(name) ?? 0) > 0 ? '--applied' : '--rolled-back'
        const resolved = await flux(['resolve', name, as], dir)
        if (resolved.code !== 0)
          throw new Error(`flux resolve ${name} ${as} exited ${resolved.code}: ${resolved.stderr}`)
      }
      return { dirty, named: dirty.filter((name) => up.stderr.includes(`app/${name}`)) }
    },
    async settle() {
      const settled = { dirty: [] as string[], named: [] as string[] }
      for (let round = 0; round < 5; round++) {
        const up = await flux(['up'], dir)
        if (up.code === 0) return settled
        if (up.code !== 3) throw new Error(`flux up exited ${up.code}:\n${up.stderr}`)
        const { dirty, named } = await project.refuseAndResolve(up)
        settled.dirty.push(...dirty)
        settled.named.push(...named)
      }
      throw new Error('flux up still refused to run after five rounds of resolve')
    },
    async expectExactlyOnce() {
      const rows = await project.rows()
      const counts = await project.counts()
      expect(names.filter((name) => rows.get(name)?.status !== 'applied')).toEqual([])
      expect(names.filter((name) => counts.get(name) !== 1).map((name) => `${name}×${counts.get(name) ?? 0}`)).toEqual(
        [],
      )
    },
  }
  return project
}

/**
 * Waits until the migration a runner is running says it started (writes `flag` in the project),
 * failing with the runner's output if it exits first.
 */
export async function waitForStart(project: FaultProject, runner: ChildProcess, done: Promise<Result>): Promise<void> {
  let exited = false
  runner.once('exit', () => {
    exited = true
  })
  await waitFor(
    () => exited || exists(project.path('started.flag')),
    'the runner to start the migration that waits',
    60_000,
  )
  if (!(await exists(project.path('started.flag')))) {
    const result = await done
    throw new Error(
      `the runner exited (${result.code ?? result.signal}) before its migration started:\n${result.stderr}`,
    )
  }
}

/** Lines `<name> <pid>` a migration appended to a log file of the project when it started. */
export async function startedBy(file: string, pid: number | undefined): Promise<string[]> {
  const text = await readFile(file, 'utf8').catch(() => '')
  return text
    .split('\n')
    .filter((line) => line.endsWith(` ${pid}`))
    .map((line) => line.split(' ')[0]!)
}

/** Output without a raw Node.js stack trace or an unhandled error report (shown only with `--debug`). */
export function expectNoStack(output: string): void {
  expect(output).not.toMatch(/Unhandled '?error'? event|^\s+at .+[(:]\d+/m)
}
