// (issue 17) A durable PostgreSQL (fsync on) of the test's own, crashed mid-script: SIGKILL of
// the postmaster, and of the server processes it started, while `flux up` sends its pipelined
// scripts of `.sql` migrations (each commit of a script but the last does not wait for the
// disk). After a restart (crash recovery), every migration flux reported applied is in the
// store with its ledger row, nothing is in the store without its ledger row, and the rerun
// applies nothing twice and finishes the rest.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { StatusRow } from '@flux/core'
import { type PgClient, pgStore } from '@flux/pg'
import { afterEach, describe, expect, it } from 'vitest'
import { finish, flux, start, waitFor } from '../test/run-flux.ts'
import { opened } from './store-kit.ts'

const MIGRATIONS = 1500
const CRASHES = 3
/** Where fault projects live: inside the CLI package, whose devDependencies give their configs `@flux/pg`. */
const TMP = join(resolve(dirname(fileURLToPath(import.meta.url)), '..'), '.flux-tmp')

/** The newest PostgreSQL's binaries, and the `postgres` user to run them as (root only can start them as it). */
function installed(): { bin: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return undefined
  const versions = readdirSync(root)
    .filter((version) => existsSync(join(root, version, 'bin', 'initdb')))
    .sort((a, b) => Number(a) - Number(b))
  const user = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === 'postgres')
  if (versions.length === 0 || !user) return undefined
  return { bin: join(root, versions.at(-1)!, 'bin'), uid: Number(user[2]), gid: Number(user[3]) }
}

const server = installed()

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolvePort(port))
    })
  })
}

/** Pids whose parent is `pid` (the server processes a postmaster started). */
function childrenOf(pid: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      // pid (comm) state ppid …: comm may hold spaces and parentheses, so read after its last ')'
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === pid) children.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return children
}

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')

/** A durable PostgreSQL in a folder of its own, on a port of its own, run as the `postgres` user. */
interface PrivateServer {
  url: string
  start(): Promise<void>
  /** SIGKILL of the postmaster and of the processes it started; resolves once all are gone. */
  crash(): Promise<void>
  stop(): Promise<void>
}

async function privateServer(): Promise<PrivateServer> {
  const { bin, uid, gid } = server!
  const root = await mkdtemp(join(tmpdir(), 'flux-pg-crash-'))
  await chown(root, uid, gid)
  const data = join(root, 'data')
  const port = await freePort()
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', 'flux', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'],
    { uid, gid, encoding: 'utf8' },
  )
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}`)
  const url = `postgres://flux@127.0.0.1:${port}/postgres`
  let postmaster: ChildProcess | undefined
  let log = ''

  const self: PrivateServer = {
    url,
    async start() {
      log = ''
      postmaster = spawn(
        join(bin, 'postgres'),
        [
          '-D',
          data,
          '-p',
          String(port),
          '-c',
          'listen_addresses=127.0.0.1',
          '-c',
          `unix_socket_directories=${root}`,
          // durable, as in production: a commit that waits waits for the disk
          '-c',
          'fsync=on',
          '-c',
          'synchronous_commit=on',
          '-c',
          'full_page_writes=on',
        ],
        { uid, gid, stdio: ['ignore', 'ignore', 'pipe'] },
      )
      postmaster.stderr!.on('data', (chunk) => {
        log += chunk
      })
      const started = postmaster
      await waitFor(
        async () => {
          if (started.exitCode !== null) throw new Error(`postgres exited (${started.exitCode}):\n${log}`)
          return /ready to accept connections/.test(log)
        },
        'the private PostgreSQL to accept connections',
        60_000,
      )
    },
    async crash() {
      const pid = postmaster!.pid!
      const children = childrenOf(pid)
      process.kill(pid, 'SIGKILL')
      for (const child of children) {
        try {
          process.kill(child, 'SIGKILL')
        } catch {
          // already gone
        }
      }
      await waitFor(
        () => !alive(pid) && children.every((child) => !alive(child)),
        'the killed server to be gone',
        30_000,
      )
      postmaster = undefined
    },
    async stop() {
      if (postmaster?.pid && alive(postmaster.pid)) {
        const pid = postmaster.pid
        // fast shutdown; a server that does not stop in time is killed, with what it started
        process.kill(pid, 'SIGINT')
        try {
          await waitFor(() => !alive(pid), 'the private PostgreSQL to stop', 20_000)
        } catch {
          await self.crash()
        }
      }
      await rm(root, { recursive: true, force: true })
    },
  }
  return self
}

/** Runs `body` with a client of the server, closed after. */
async function query<T>(url: string, body: (client: PgClient) => Promise<T>): Promise<T> {
  const { client, close } = await opened(pgStore({ url }))
  try {
    return await body(client)
  } finally {
    await close()
  }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe.skipIf(!server)(
  'pg crash mid-script (a PostgreSQL of the test own, fsync on; needs root and PostgreSQL)',
  () => {
    it(`${CRASHES} crashes of the server: nothing reported applied is lost, nothing applied twice`, async () => {
      const pgServer = await privateServer()
      cleanups.push(() => pgServer.stop())
      await pgServer.start()
      await query(pgServer.url, (client) => client.query('create table crash_effects (name text not null)'))

      const dir = join(TMP, `pg-crash-${randomBytes(5).toString('hex')}`)
      await mkdir(join(dir, 'migrations'), { recursive: true })
      cleanups.push(() => rm(dir, { recursive: true, force: true }))
      await writeFile(
        join(dir, 'flux.config.ts'),
        `import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
export default defineConfig({
  // a wait for the disk at the end of every script (default: every 250 ms), so that a crash
  // after tens of commits finds some told applied
  stores: { db: pgStore({ url: ${JSON.stringify(pgServer.url)}, durableEveryMs: 0 }) },
  migrations: './migrations',
  lease: { ttlMs: 3000, waitMs: 30000 },
})
`,
      )
      const names = Array.from({ length: MIGRATIONS }, (_, index) => `${String(index + 1).padStart(4, '0')}_row`)
      for (const name of names) {
        await writeFile(
          join(dir, 'migrations', `${name}.sql`),
          // the server sends a script's results when its output buffer (8 kB) fills: a row this large makes
          // it tell flux of commits before the script ends, so that flux hears of commits that did not wait
          `-- flux:store db\n-- flux:up\ninsert into crash_effects (name) values ('${name}');\nselect repeat('x', 3000) as padding;\n`,
        )
      }

      /** How many times the store holds each migration's effect, and what its ledger says of each. */
      const inspect = async () => {
        const { rows } = await query(pgServer.url, (client) =>
          client.query<{ name: string; count: number }>(
            'select name, count(*)::int as count from crash_effects group by name',
          ),
        )
        const status = await flux(['status', '--json'], dir)
        expect(status.code, status.stderr).toBe(0)
        const ledger = JSON.parse(status.stdout).migrations as StatusRow[]
        return {
          counts: new Map(rows.map((row) => [row.name, row.count])),
          applied: new Set(ledger.filter((row) => row.status === 'applied').map((row) => row.name)),
        }
      }

      let crashed = 0
      for (let round = 0; crashed < CRASHES; round++) {
        if (round >= CRASHES * 3) throw new Error(`only ${crashed} of ${round} runs were caught by a crash`)
        const { counts: before } = await inspect()
        const child = start(['up', '--json'], dir)
        const done = finish(child)
        let exited = false
        child.on('exit', () => {
          exited = true
        })
        // a random point: after tens to hundreds of more migrations committed, while flux sends scripts
        const at = before.size + 20 + Math.floor(Math.random() * 200)
        const { client, close } = await opened(pgStore({ url: pgServer.url }))
        try {
          await waitFor(
            async () =>
              exited ||
              (await client.query<{ n: number }>('select count(*)::int as n from crash_effects')).rows[0]!.n >= at,
            `${at} migrations to commit`,
            60_000,
          )
        } finally {
          await close()
        }
        if (exited) {
          const result = await done
          expect(result.code, result.stderr).toBe(0)
          continue
        }
        await pgServer.crash()
        crashed += 1
        const result = await done
        // the store was lost mid-run
        expect(result.code, result.stderr).toBe(1)
        // told applied: in the report of --json, or on a progress line as it went
        const report = JSON.parse(result.stdout) as { steps: { id: string; status: string }[] }
        const told = new Set(report.steps.filter((step) => step.status === 'applied').map((step) => step.id.slice(4)))
        for (const match of result.stderr.matchAll(/applied\s+app\/(\S+)/g)) told.add(match[1]!)
        expect(told.size, result.stderr).toBeGreaterThan(0)

        await pgServer.start()
        const { counts, applied } = await inspect()
        // reported applied: in the store, with its ledger row
        expect([...told].filter((name) => counts.get(name) !== 1 || !applied.has(name))).toEqual([])
        // in the store once, with its ledger row; never twice; never in the ledger without its effect
        expect(names.filter((name) => (counts.get(name) ?? 0) > 1)).toEqual([])
        expect(names.filter((name) => counts.has(name) !== applied.has(name))).toEqual([])
      }

      const rerun = await flux(['up'], dir)
      expect(rerun.code, rerun.stderr).toBe(0)
      const { counts, applied } = await inspect()
      expect(names.filter((name) => counts.get(name) !== 1 || !applied.has(name))).toEqual([])
    })
  },
)
