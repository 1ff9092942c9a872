import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/**
 * A redis-server this test file starts, stops and restarts itself on a free port (never the
 * shared ones). It keeps an append-only file fsynced on every write, so that a SIGKILL loses
 * nothing that was acknowledged, as a production server configured for durability would.
 */
export interface OwnRedis {
  readonly port: number
  /** `redis://[:password@]127.0.0.1:<port>` */
  readonly url: string
  /** Kills the server with SIGKILL and waits until it is gone. */
  kill(): Promise<void>
  /** Starts it again on the same port with the same data, and waits until it answers. */
  restart(): Promise<void>
  /** Kills it and deletes its data. */
  stop(): Promise<void>
}

const started = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of started) child.kill('SIGKILL')
})

export async function startOwnRedis(options: { password?: string; args?: string[] } = {}): Promise<OwnRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'flux-own-redis-'))
  let child: ChildProcess | undefined
  let port = 0
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--save', '']
    args.push('--appendonly', 'yes', '--appendfsync', 'always', ...(options.args ?? []))
    if (options.password) args.push('--requirepass', options.password)
    const current = spawn('redis-server', args, { stdio: 'ignore' })
    started.add(current)
    current.once('exit', () => started.delete(current))
    child = current
    await answering(port, current)
  }
  for (let tries = 0; ; tries++) {
    port = 40_000 + Math.floor(Math.random() * 5_000)
    if (!(await isFree(port))) continue
    try {
      await launch()
      break
    } catch (error) {
      if (tries >= 5) throw error
    }
  }
  const kill = async () => {
    const current = child
    if (!current || current.exitCode !== null || current.signalCode !== null) return
    const exited = new Promise((resolve) => current.once('exit', resolve))
    current.kill('SIGKILL')
    await exited
  }
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : ''
  return {
    port,
    url: `redis://${auth}127.0.0.1:${port}`,
    kill,
    restart: launch,
    async stop() {
      await kill()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** Polls with PING until the server answers (+PONG, or -NOAUTH with a password), for at most 10 s. */
async function answering(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with code ${child.exitCode}`)
    if (await pings(port)) return
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer within 10s`)
    await sleep(20)
  }
}

function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    socket.setTimeout(1_000)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => {
      socket.destroy()
      resolve(/^(\+PONG|-NOAUTH)/.test(data.toString()))
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}
