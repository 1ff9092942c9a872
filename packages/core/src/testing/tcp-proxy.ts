import { once } from 'node:events'
import { type AddressInfo, createServer, connect as netConnect, type Socket } from 'node:net'

/** A TCP proxy on 127.0.0.1 in front of a store's server, whose connections a test can cut. */
export interface TcpProxy {
  /** The proxy's port on 127.0.0.1, to point a store at instead of the server's. */
  readonly port: number
  /** `url` with its host and port replaced by the proxy's. */
  url(url: string): string
  /**
   * Destroys every connection through the proxy, both ways, as a network that fails does.
   * `refuse`: new connections are cut at once too, until `restore()`.
   */
  cut(options?: { refuse?: boolean }): void
  /** Forwards new connections again. */
  restore(): void
  /** Local ports of the proxy's connections to the server (`client_port` in PostgreSQL's `pg_stat_activity`). */
  readonly upstreamPorts: ReadonlySet<number>
  /** How many connections were forwarded so far. */
  readonly accepted: number
  close(): Promise<void>
}

/**
 * Starts a proxy to `target`, for tests of what an adapter (or flux as a whole) does when its
 * connection breaks mid-run. Listens on 127.0.0.1 only.
 *
 * @example
 * ```ts
 * const proxy = await tcpProxy({ host: '127.0.0.1', port: 5432 })
 * const store = pgStore({ url: proxy.url(process.env.DATABASE_URL!) })
 * // … start a run, then:
 * proxy.cut({ refuse: true })
 * ```
 */
export async function tcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>()
  const upstreamPorts = new Set<number>()
  let refusing = false
  let accepted = 0
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    // a cut connection's other end may still write: its error is expected
    socket.on('error', () => {})
  }
  const server = createServer((client) => {
    track(client)
    if (refusing) {
      client.destroy()
      return
    }
    accepted += 1
    const upstream = netConnect(target.port, target.host)
    track(upstream)
    upstream.on('connect', () => upstreamPorts.add(upstream.localPort!))
    client.pipe(upstream)
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  return {
    port,
    url(url) {
      const parsed = new URL(url)
      parsed.hostname = '127.0.0.1'
      parsed.port = String(port)
      return parsed.toString()
    },
    cut(options = {}) {
      refusing = options.refuse === true
      for (const socket of sockets) socket.destroy()
    },
    restore() {
      refusing = false
    },
    upstreamPorts,
    get accepted() {
      return accepted
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}
