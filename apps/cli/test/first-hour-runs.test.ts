// Runs as a new user meets them in the first hour (issue 16): a store that is down, a Ctrl-C
// during `up` (also as `npx` delivers it: twice), a runner killed on this host, and a long
// migration's progress. The built CLI runs as a child process, against the real servers.

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { join } from 'node:path'
import { describeWithServer } from '@flux/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import {
  countingMigration,
  effects,
  emptyProject,
  exists,
  FLUX_BIN,
  finish,
  flux,
  project,
  type Result,
  start,
  statusJson,
  waitFor,
} from './helpers.ts'

/** A project whose config declares `stores` (name → factory call) with the adapters it imports. */
async function storesProject(
  stores: Record<string, string>,
  migrations: Record<string, string>,
  lease = '{ ttlMs: 60_000, waitMs: 3_000 }',
): Promise<string> {
  const dir = await emptyProject()
  const factories = new Set(Object.values(stores).map((call) => /^(\w+)Store\(/.exec(call)![1]!))
  const imports = [...factories].map((kind) => `import { ${kind}Store } from '@flux/${kind}'`).join('\n')
  const entries = Object.entries(stores).map(([name, call]) => `    ${name}: ${call},`)
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
${imports}
export default defineConfig({
  stores: {
${entries.join('\n')}
  },
  migrations: './migrations',
  lease: ${lease},
})
`,
  )
  await mkdir(join(dir, 'migrations'))
  for (const [name, source] of Object.entries(migrations)) await writeFile(join(dir, 'migrations', name), source)
  return dir
}

/**
 * A migration of `store` that runs `before`, writes started.flag, then waits for go.flag,
 * checking `ctx.signal` as it waits, then runs `after`.
 */
function waitingOn(store: string, options: { transaction?: boolean; before?: string; after?: string } = {}): string {
  return `import { existsSync, writeFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
export default defineMigration({
  store: ${JSON.stringify(store)},
  transaction: ${options.transaction === true},
  async up({ store, signal }) {
    ${options.before ?? ''}
    writeFileSync('started.flag', '')
    while (!existsSync('go.flag')) {
      await new Promise((resolve) => setTimeout(resolve, 20))
      signal.throwIfAborted()
    }
    ${options.after ?? ''}
  },
})
`
}

/** Starts `flux <args>`, with its stderr readable as it comes. */
function running(args: string[], dir: string, env: Record<string, string> = {}) {
  const child = start(args, dir, env)
  const done = finish(child)
  let stderr = ''
  child.stderr!.on('data', (chunk) => {
    stderr += chunk
  })
  return { child, done, stderr: () => stderr }
}

const unique = (label: string) => `${label}_${randomBytes(4).toString('hex')}`

describe('status with a store that cannot be reached', () => {
  const servers: Server[] = []
  const cleanups: (() => void)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) cleanup()
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve))
  })

  it('shows the reachable stores, marks the other with its error, and exits 1', async () => {
    const dir = await storesProject(
      {
        files: "fsStore({ root: './var/files' })",
        catalog: "pgStore({ url: 'postgres://flux:hunter2-secret@127.0.0.1:1/app' })",
      },
      {
        '001_a.ts': countingMigration('001_a'),
        '002_b.ts': countingMigration('002_b'),
        '003_catalog.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({ store: 'catalog', async up() {} })
`,
      },
    )
    // up reads every store's ledger to plan, so it stops before anything runs
    expect((await flux(['up', 'app/001_a'], dir)).code).toBe(1)
    const result = await flux(['status'], dir)
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('files fs')
    expect(result.stdout).toMatch(/pending +app\/001_a/)
    expect(result.stdout).toMatch(/catalog pg 127\.0\.0\.1:1\/app\n {2}unreachable: .*connection refused/)
    expect(result.stdout).toMatch(/unknown +app\/003_catalog/)
    expect(result.stdout).toContain('3 migrations: 2 pending, 1 unknown')
    expect(result.stderr).toContain(
      'error: store "catalog" could not be reached: the status of its migrations is unknown',
    )
    expect(result.stdout + result.stderr).not.toContain('hunter2')

    const json = await flux(['status', '--json'], dir)
    expect(json.code).toBe(1)
    expect(json.stdout + json.stderr).not.toContain('hunter2')
    expect(json.stderr).toContain('error: store "catalog" could not be reached')
    const document = JSON.parse(json.stdout)
    const stores = Object.fromEntries(
      document.stores.map((store: { name: string; error?: { code: string } }) => [store.name, store.error?.code]),
    )
    expect(stores).toEqual({ catalog: 'STORE_UNAVAILABLE', files: undefined })
    expect(document.migrations.map((row: { status: string }) => row.status)).toEqual(['pending', 'pending', 'unknown'])
  })

  it('gives up on a store that accepts connections and never answers within 5 s', async () => {
    const sockets: Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    servers.push(silent)
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy()
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    const dir = await storesProject(
      {
        files: "fsStore({ root: './var/files' })",
        catalog: `pgStore({ url: 'postgres://flux@127.0.0.1:${port}/app' })`,
      },
      { '001_a.ts': countingMigration('001_a') },
    )
    const started = performance.now()
    const result = await flux(['status'], dir)
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('did not answer within 5 s')
    expect(result.stdout).toMatch(/pending +app\/001_a/)
    expect(performance.now() - started).toBeLessThan(9_000)
  })
})

describe('up with a store that is down', () => {
  it('fails before it starts, naming the store, and applies nothing in the stores that are up', async () => {
    // leases go in sorted order: "z_cache" would be the last one taken
    const dir = await storesProject(
      { a_files: "fsStore({ root: './var/files' })", z_cache: "redisStore({ url: 'redis://:hunter2@127.0.0.1:1' })" },
      {
        '001_a.ts': countingMigration('001_a').replace("store: 'files'", "store: 'a_files'"),
        '002_cache.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({ store: 'z_cache', async up() {} })
`,
      },
    )
    const result = await flux(['up'], dir)
    expect(result.code).toBe(1)
    expect(result.stderr).toMatch(
      /error: store "z_cache": redis 127\.0\.0\.1:1: cannot connect: .*; nothing was applied in any store\n/,
    )
    expect(result.stderr).not.toContain('hunter2')
    expect(await effects(dir)).toEqual([])
    expect(await exists(join(dir, 'var/files/.flux'))).toBe(false)
  })
})

describe('a cancelled run', () => {
  const slowProject = () =>
    project({
      '001_a.ts': countingMigration('001_a'),
      '002_slow.ts': waitingOn('files', { after: "await store.put('002_slow.txt', 'done')" }),
      '003_c.ts': countingMigration('003_c'),
    })

  it('finishes the step in flight (no transaction), says what was applied and not started, exits 130: Ctrl-C through npx', async () => {
    const dir = await slowProject()
    const run = running(['up'], dir)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the slow migration to start')
    // the terminal signals the whole process group, and npx forwards the same signal once more
    run.child.kill('SIGINT')
    run.child.kill('SIGINT')
    await waitFor(() => run.stderr().includes('stopping after the current step'), 'the runner to see the signal')
    await writeFile(join(dir, 'go.flag'), '')
    const result = await run.done
    expect(result.code).toBe(130)
    expect(result.stdout).toContain('✓ applied  app/002_slow')
    expect(result.stdout).toContain('cancelled: 2 applied, 1 not started (app/003_c)')
    expect(result.stderr).toContain('hint: run `flux up` again to go on from there')
    expect(result.stderr).not.toMatch(/error|dirty|fix/)
    expect(await exists(join(dir, 'var/files/002_slow.txt'))).toBe(true)
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied', 'applied', 'pending'])
    expect(await exists(join(dir, 'var/files/.flux/lease.json'))).toBe(false)
    const again = await flux(['up'], dir)
    expect(again.code).toBe(0)
    expect(again.stderr).not.toContain('taken over')
  })

  it('exits 0 when the signal came during the last step and the run finished', async () => {
    const dir = await project({
      '001_a.ts': countingMigration('001_a'),
      '002_slow.ts': waitingOn('files'),
    })
    const run = running(['up'], dir)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the slow migration to start')
    run.child.kill('SIGTERM')
    await waitFor(() => run.stderr().includes('stopping after the current step'), 'the runner to see the signal')
    await writeFile(join(dir, 'go.flag'), '')
    const result = await run.done
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('2 applied')
    expect(result.stderr).toContain('the run had finished everything before it could stop')
  })

  it('says nothing was applied when cancelled while waiting for a lease', async () => {
    const dir = await slowProject()
    const holder = running(['up'], dir)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the first runner to hold the lease')
    const waiting = running(['up', '--config', 'flux.config.ts'], dir)
    await waitFor(() => waiting.stderr().includes('waiting for store "files"'), 'the second runner to wait')
    waiting.child.kill('SIGINT')
    const result = await waiting.done
    expect(result.code).toBe(130)
    expect(result.stderr).toMatch(
      /cancelled: interrupted while waiting for the lease on store "files"; nothing was applied/,
    )
    await writeFile(join(dir, 'go.flag'), '')
    expect((await holder.done).code).toBe(0)
  })

  it('quits at once on a second signal, and the next run takes the dead runner’s lease over with a note', async () => {
    const dir = await slowProject()
    const run = running(['up'], dir)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the slow migration to start')
    run.child.kill('SIGINT')
    await waitFor(() => run.stderr().includes('stopping after the current step'), 'the runner to see the signal')
    await new Promise((resolve) => setTimeout(resolve, 400))
    run.child.kill('SIGINT')
    const result = await run.done
    expect(result.code).toBe(130)
    const pid = run.child.pid
    const status = await flux(['status'], dir)
    expect(status.stdout).toContain(`held by pid ${pid} on this host, which is gone`)
    expect(status.stdout).not.toContain('may still be running')
    const next = await flux(['up'], dir)
    expect(next.stderr).toContain(`lease of "files" was held by pid ${pid} on this host, which is gone: taken over`)
    expect(next.code).toBe(3) // the migration it left is dirty: up takes the lease, then refuses
  })
})

describe('Ctrl-C in a terminal, sent to the whole process group', () => {
  /** A migration that runs `sleep 2` as a child process: `detached` puts it in a process group of its own. */
  const sleeping = (detached: boolean) => `import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'files',
  async up({ store }) {
    writeFileSync('started.flag', '')
    const result = spawnSync('sleep', ['2'], { detached: ${detached}, stdio: 'ignore' })
    if (result.signal) throw new Error(\`sleep ended by \${result.signal}\`)
    await store.put('slept.txt', 'done')
  },
})
`

  /** Runs `flux up` as a terminal's foreground job would, and presses Ctrl-C once its migration started. */
  async function interruptedGroup(dir: string): Promise<Result> {
    const variables: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' }
    const child = spawn(process.execPath, [FLUX_BIN, 'up'], {
      cwd: dir,
      env: variables,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    })
    const done = finish(child)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the migration to start')
    await new Promise((resolve) => setTimeout(resolve, 200)) // sleep has started
    process.kill(-child.pid!, 'SIGINT')
    return done
  }

  it('a program the migration started gets it too: the migration fails, and a note says why', async () => {
    const dir = await project({ '001_sleep.ts': sleeping(false), '002_c.ts': countingMigration('002_c') })
    const result = await interruptedGroup(dir)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain('sleep ended by SIGINT')
    expect(result.stderr).toContain(
      'note: it failed after the run was cancelled: a program it started got the Ctrl-C too',
    )
  })

  it('a program started detached finishes with its migration, and the run stops calmly', async () => {
    const dir = await project({ '001_sleep.ts': sleeping(true), '002_c.ts': countingMigration('002_c') })
    const result = await interruptedGroup(dir)
    expect(result.code).toBe(130)
    expect(result.stdout).toContain('cancelled: 1 applied, 1 not started (app/002_c)')
    expect(await exists(join(dir, 'var/files/slept.txt'))).toBe(true)
  })
})

describeWithServer('FLUX_TEST_PG_URL', 'a cancelled run on PostgreSQL', () => {
  it('rolls back the migration in flight in its transaction when it stops on ctx.signal, exits 143 on SIGTERM', async () => {
    const schema = unique('cancel')
    const dir = await storesProject(
      { catalog: `pgStore({ url: process.env.FLUX_TEST_PG_URL, schema: '${schema}' })` },
      {
        '001_a.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({ store: 'catalog', async up({ store }) { await store.query('create table ${schema}.a (id int)') } })
`,
        '002_slow.ts': waitingOn('catalog', {
          transaction: true,
          before: `await store.query('create table ${schema}.b (id int)')`,
        }),
      },
    )
    const run = running(['up'], dir)
    await waitFor(() => exists(join(dir, 'started.flag')), 'the slow migration to start')
    run.child.kill('SIGTERM')
    const result = await run.done
    expect(result.code).toBe(143)
    expect(result.stdout).toContain('↶ cancelled app/002_slow')
    expect(result.stdout).toContain('rolled back, nothing of it kept')
    expect(result.stdout).toContain('cancelled: 1 applied, 1 rolled back (app/002_slow)')
    expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied', 'pending'])
    // the table it created is gone with its transaction: applying it again creates it anew
    await writeFile(join(dir, 'go.flag'), '')
    const again = await flux(['up'], dir)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('✓ applied  app/002_slow')
  })
})

/** Kills a runner while its migration runs; returns its pid. */
async function killedRunner(dir: string, env: Record<string, string> = {}): Promise<number> {
  const run = running(['up'], dir, env)
  await waitFor(() => exists(join(dir, 'started.flag')), 'the migration to start')
  run.child.kill('SIGKILL')
  await run.done
  return run.child.pid!
}

const S3_ENV = {
  AWS_ACCESS_KEY_ID: process.env.FLUX_TEST_S3_ACCESS_KEY_ID ?? '',
  AWS_SECRET_ACCESS_KEY: process.env.FLUX_TEST_S3_SECRET_ACCESS_KEY ?? '',
  AWS_REGION: process.env.FLUX_TEST_S3_REGION ?? 'us-east-1',
}

const DEAD_HOLDER_CASES: { name: string; variable: string; store: () => string; env?: Record<string, string> }[] = [
  { name: 'fs', variable: 'PATH', store: () => "fsStore({ root: './var/photos' })" },
  {
    name: 'pg (lock: table)',
    variable: 'FLUX_TEST_PG_URL',
    store: () => `pgStore({ url: process.env.FLUX_TEST_PG_URL, schema: '${unique('dead')}', lock: 'table' })`,
  },
  { name: 'pglite', variable: 'PATH', store: () => "pgStore({ pglite: './var/pg' })" },
  {
    name: 'mongo',
    variable: 'FLUX_TEST_MONGO_URL',
    store: () => `mongoStore({ url: process.env.FLUX_TEST_MONGO_URL, database: '${unique('dead')}' })`,
  },
  {
    name: 'redis',
    variable: 'FLUX_TEST_REDIS_URL',
    store: () => `redisStore({ url: process.env.FLUX_TEST_REDIS_URL, prefix: '${unique('dead')}:' })`,
  },
  {
    name: 's3',
    variable: 'FLUX_TEST_S3_ENDPOINT',
    store: () =>
      `s3Store({ bucket: process.env.FLUX_TEST_S3_BUCKET ?? 'flux-test', prefix: '${unique('dead')}/', endpoint: process.env.FLUX_TEST_S3_ENDPOINT, forcePathStyle: true })`,
    env: S3_ENV,
  },
]

for (const target of DEAD_HOLDER_CASES) {
  describeWithServer(target.variable, `a runner SIGKILLed on this host, ${target.name}`, () => {
    it('is shown as gone by status, and its lease taken over at once with a note', async () => {
      const dir = await storesProject({ photos: target.store() }, { '001_slow.ts': waitingOn('photos') })
      const env = target.env ?? {}
      const pid = await killedRunner(dir, env)
      const status = await flux(['status'], dir, env)
      expect(status.stdout).toMatch(/dirty +app\/001_slow/)
      expect(status.stdout).toContain(`held by pid ${pid} on this host, which is gone`)
      expect(status.stdout).not.toContain('may still be running')
      const next = await flux(['up'], dir, env)
      // lease waitMs is 3 s and its ttl 60 s: waiting for it would end in LEASE_TIMEOUT (exit 4)
      expect(next.stderr).toContain(`lease of "photos" was held by pid ${pid} on this host, which is gone: taken over`)
      expect(next.code).toBe(3)
      expect(next.stderr).toContain('never finished')
    })
  })
}

describeWithServer('FLUX_TEST_PG_URL', 'a runner SIGKILLed on this host, pg (advisory lock)', () => {
  it('left no lease: the server freed its advisory lock when its session ended', async () => {
    const dir = await storesProject(
      { photos: `pgStore({ url: process.env.FLUX_TEST_PG_URL, schema: '${unique('dead')}' })` },
      { '001_slow.ts': waitingOn('photos') },
    )
    await killedRunner(dir)
    const status = await flux(['status'], dir)
    expect(status.stdout).toMatch(/dirty +app\/001_slow/)
    expect(status.stdout).not.toMatch(/held by|leased by/)
    const next = await flux(['up'], dir)
    expect(next.code).toBe(3)
    expect(next.stderr).toContain('never finished')
  })
})

/** A migration that reports 100,000 items in 20 batches over about 2 s. */
const BACKFILL = `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'files',
  async up({ progress }) {
    const bar = progress(100_000)
    for (let batch = 0; batch < 20; batch++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      bar.advance(5_000)
    }
  },
})
`

describe('progress of a long migration', () => {
  it('prints plain lines off a terminal: count, percentage, rate and eta, never JSON', async () => {
    const dir = await project({ '20261201000000_backfill.ts': BACKFILL })
    const result: Result = await flux(['up'], dir)
    expect(result.code).toBe(0)
    const lines = result.stderr.split('\n').filter((line) => line.startsWith('app/20261201000000_backfill:'))
    expect(lines.length).toBeGreaterThanOrEqual(2)
    expect(lines.length).toBeLessThanOrEqual(11)
    expect(lines[0]).toMatch(
      /^app\/20261201000000_backfill: \d{1,3}(,\d{3})*\/100,000 \(\d{1,2}%\) \d{1,3}(,\d{3})*\/s, eta \d+s$/,
    )
    expect(lines.at(-1)).toMatch(/^app\/20261201000000_backfill: 100,000\/100,000 \(100%\) [\d,]+\/s$/)
    expect(result.stderr).not.toContain('{')
    expect(result.stdout).toContain('✓ applied  app/20261201000000_backfill')
  })

  it('writes JSON lines on stderr under --json, and one JSON document on stdout', async () => {
    const dir = await project({ '20261201000000_backfill.ts': BACKFILL })
    const result = await flux(['up', '--json'], dir)
    expect(result.code).toBe(0)
    const events = result.stderr
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line))
    expect(events.length).toBeGreaterThanOrEqual(2)
    expect(events.at(-1)).toMatchObject({
      type: 'progress',
      id: 'app/20261201000000_backfill',
      done: 100_000,
      total: 100_000,
      percent: 100,
    })
    expect(events[0]).toMatchObject({ type: 'progress', total: 100_000 })
    expect(events[0].rate).toBeGreaterThan(0)
    expect(events[0].etaSeconds).toBeGreaterThanOrEqual(0)
    const document = JSON.parse(result.stdout)
    expect(document.ok).toBe(true)
    expect(document.steps.map((step: { status: string }) => step.status)).toEqual(['applied'])
  })
})
