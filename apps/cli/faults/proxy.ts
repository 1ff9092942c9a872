// A TCP proxy on 127.0.0.1 that the fault tests put between flux and a store's server, so
// they can cut the store's connections in the middle of a run, as a network would.
import { connect, createServer, type Server, type Socket } from 'node:net'

export interface Proxy {
  /** The port flux connects to instead of the server's. */
  readonly port: number
  /** Connections accepted since the proxy started (each one reached the server, or was refused while down). */
  readonly accepted: number
  /** Resets every open connection, both ways, and refuses new ones until `restore()`. */
  cut(): void
  /** Forwards new connections again. */
  restore(): void
  close(): Promise<void>
}

export async function startProxy(upstream: { host: string; port: number }): Promise<Proxy> {
  const sockets = new Set<Socket>()
  let down = false
  let accepted = 0
  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    // a reset is how the peer learns of the cut; it is not the proxy's failure
    socket.on('error', () => {})
  }
  const server: Server = createServer((client) => {
    accepted += 1
    track(client)
    if (down) {
      client.resetAndDestroy()
      return
    }
    const server = connect(upstream)
    track(server)
    client.pipe(server)
    server.pipe(client)
    client.on('close', () => server.destroy())
    server.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('the proxy did not get a TCP port')
  return {
    port: address.port,
    get accepted() {
      return accepted
    },
    cut() {
      down = true
      for (const socket of sockets) socket.resetAndDestroy()
    },
    restore() {
      down = false
    },
    close() {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}
