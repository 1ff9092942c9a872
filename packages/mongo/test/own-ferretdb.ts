import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { homedir, tmpdir } from 'node:os'
import { join } from 'node:path'
import { MongoClient } from 'mongodb'
import { waitFor } from './cli-helpers.ts'

/** The FerretDB binary that `scripts/services start` builds, if it has. */
export function ferretdbBinary(): string | undefined {
  const cache = process.env.FLUX_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'flux')
  const dir = join(cache, 'bin')
  if (!existsSync(dir)) return undefined
  const found = readdirSync(dir)
    .filter((name) => name.startsWith('ferretdb-'))
    .sort()
    .at(-1)
  return found && join(dir, found)
}

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * A FerretDB server of the test's own, child of the test process: its own port and data
 * directory, so that stopping it disturbs nobody else's tests.
 */
export interface OwnFerretdb {
  readonly url: string
  /** Kills the server (SIGKILL, as a crash or a pulled plug) and waits until it is gone. */
  stop(): Promise<void>
  /** Starts it again on the same port and data directory, and waits until it answers. */
  start(): Promise<void>
  /** Stops it and removes its data. */
  remove(): Promise<void>
}

export async function ownFerretdb(binary: string): Promise<OwnFerretdb> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-mongo-ferretdb-'))
  await mkdir(join(dir, 'data'))
  const port = await freePort()
  const url = `mongodb://127.0.0.1:${port}/`
  let child: ChildProcess | undefined

  const answers = async () => {
    const client = new MongoClient(url, { serverSelectionTimeoutMS: 300, connectTimeoutMS: 300 })
    try {
      await client.db('admin').command({ ping: 1 })
      return true
    } catch {
      return false
    } finally {
      await client.close()
    }
  }

  const server: OwnFerretdb = {
    url,
    async start() {
      const spawned = spawn(
        binary,
        [
          '--handler=sqlite',
          `--sqlite-url=file:${join(dir, 'data')}/`,
          `--state-dir=${dir}`,
          `--listen-addr=127.0.0.1:${port}`,
          '--debug-addr=-',
          '--telemetry=disable',
          '--log-level=error',
        ],
        { stdio: 'ignore' },
      )
      child = spawned
      let exited = false
      spawned.on('exit', () => {
        exited = true
      })
      await waitFor(async () => exited || (await answers()), `FerretDB on port ${port}`, 20_000)
      if (exited) throw new Error(`FerretDB (${binary}) exited at start on port ${port}`)
    },
    async stop() {
      const running = child
      child = undefined
      if (!running || running.exitCode !== null || running.signalCode !== null) return
      const gone = new Promise((resolve) => running.once('exit', resolve))
      running.kill('SIGKILL')
      await gone
    },
    async remove() {
      await server.stop()
      await rm(dir, { recursive: true, force: true })
    },
  }
  await server.start()
  return server
}
