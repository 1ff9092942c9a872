import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exitCodeOf, FluxError } from '@flux/core'
import { serve } from '@hono/node-server'
import { siteApp } from './app.ts'
import { openSiteStores } from './site-stores.ts'

export interface SiteOptions {
  /** Folder of flux.config.ts. Default: the demo's folder. */
  cwd?: string
  /** Default 3000; 0 picks a free port. */
  port?: number
  /** Default 127.0.0.1. */
  host?: string
  /** Receives what the site has to say while it starts (stores it could not open, what it read). */
  log?: (line: string) => void
}

export interface RunningSite {
  url: string
  /** Stores that could not be opened, with why: the pages that need them say so. */
  unavailable: ReadonlyMap<string, string>
  close(): Promise<void>
}

const DEMO_DIR = resolve(fileURLToPath(import.meta.url), '../..')

/**
 * Starts the travel site: loads flux.config.ts with @flux/core, opens its stores, serves the
 * pages. `close()` stops the server and closes the stores.
 */
export async function startSite(options: SiteOptions = {}): Promise<RunningSite> {
  const host = options.host ?? '127.0.0.1'
  const stores = await openSiteStores(options.cwd ?? DEMO_DIR)
  const log = options.log ?? (() => {})
  for (const [store, why] of stores.unavailable) log(`travel site: store "${store}" is unavailable: ${why}`)
  const { app, ready } = siteApp(stores)
  try {
    // the pages' lists of reviews and itineraries, read before the first page asks for them
    if (stores.trips) log('travel site: reading the reviews and itineraries (MongoDB store "trips")…')
    const started = performance.now()
    const read = await ready()
    if (read) {
      const seconds = ((performance.now() - started) / 1000).toFixed(1)
      log(`travel site: read ${read.reviews} reviews and ${read.itineraries} itineraries in ${seconds} s`)
    }
    const { server, port } = await new Promise<{ server: ReturnType<typeof serve>; port: number }>((done, fail) => {
      const server = serve({ fetch: app.fetch, port: options.port ?? 3000, hostname: host }, (info) =>
        done({ server, port: info.port }),
      )
      server.once('error', fail)
    })
    return {
      url: `http://${host}:${port}`,
      unavailable: stores.unavailable,
      async close() {
        await new Promise<void>((done) => {
          server.close(() => done())
          // keep-alive connections from a browser would hold close() open
          ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
        })
        await stores.close()
      },
    }
  } catch (error) {
    await stores.close()
    throw error
  }
}

async function main(): Promise<void> {
  const port = process.env.PORT ? Number(process.env.PORT) : 3000
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`travel site: PORT=${process.env.PORT} is not a port number (0-65535)`)
    process.exit(2)
  }
  // as the flux command does: relative paths in the config (./var/photos) are from its folder
  process.chdir(DEMO_DIR)
  const site = await startSite({ port, host: process.env.HOST || '127.0.0.1', log: (line) => console.log(line) })
  console.log(`travel site on ${site.url}`)
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`travel site: ${signal}, stopping`)
    site.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('travel site: could not stop cleanly:', error)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    const { code, hint } = error as { code?: string; hint?: string }
    console.error(`travel site: could not start: ${error instanceof Error ? error.message : String(error)}`)
    if (hint) console.error(`  hint: ${hint}`)
    else if (code === 'EADDRINUSE') console.error('  hint: another program listens there: stop it, or set PORT')
    // flux's exit codes: 2 for a bad config, 1 for a store that cannot be reached (and the rest)
    process.exit(FluxError.is(error) ? exitCodeOf(error.code) : 1)
  })
}
