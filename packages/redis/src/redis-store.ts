import { type Adapter, FluxError, messageOf, unsetStore } from '@flux/core'
import { Cluster, Redis } from 'ioredis'
import { type RedisClient, redisClient } from './redis-client.ts'
import { redisLease } from './redis-lease.ts'
import { redisLedger } from './redis-ledger.ts'
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  describeTarget,
  keysOf,
  type RedisConnection,
  type RedisContext,
  type RedisStoreOptions,
  redisError,
} from './redis-options.ts'

/**
 * A Redis store: a standalone server or a Redis Cluster, through ioredis. The ledger and the
 * lease are keys under one hash tag, `{<prefix>}:…`, so a cluster keeps them in one slot.
 * Redis has no rollback: migrations are recorded `running`, then `applied`, and a crash in
 * between leaves them dirty for `flux status` to show. Slot moves (MOVED, ASK) are followed by
 * ioredis; other errors become `FluxError`s naming `describe()`, never a password. Needs
 * Redis 6.2 or newer (GETDEL).
 *
 * @example
 * ```ts
 * export default defineConfig({
 *   stores: {
 *     cache: redisStore({ url: process.env.REDIS_URL }),
 *     sessions: redisStore({ cluster: { nodes: ['10.0.0.1:7000', '10.0.0.2:7000'] }, prefix: 'sessions' }),
 *   },
 * })
 * ```
 */
export function redisStore(options: RedisStoreOptions): Adapter<RedisClient> {
  let target: ReturnType<typeof describeTarget>
  try {
    target = describeTarget(options)
  } catch (error) {
    // no url (an unset REDIS_URL): commands that open no store still work
    return unsetStore(error, { kind: 'redis', capabilities: {} })
  }
  const { description, secrets } = target
  const keys = keysOf(options.prefix)
  let connection: RedisConnection | undefined
  let client: RedisClient | undefined

  const context: RedisContext = {
    keys,
    description,
    secrets,
    heldLease: undefined,
    connection() {
      if (connection) return connection
      throw new FluxError('STORE_ERROR', `${description} is not open`, { hint: 'open() the store before using it' })
    },
  }

  return {
    specVersion: 'v1',
    kind: 'redis',
    capabilities: {},

    async open() {
      if (connection) return
      if (options.client) {
        await withDeadline(context, options.client.ping())
        connection = options.client
        return
      }
      const created = connect(options)
      context.lastError = undefined
      // ioredis tells why it cannot connect only as an event; commands fail with "Connection is closed"
      created.on('error', (error: unknown) => {
        context.lastError = error
      })
      try {
        await withDeadline(
          context,
          created.connect().then(() => created.ping()),
        )
      } catch (error) {
        created.disconnect()
        throw error
      }
      connection = created
    },

    async close() {
      const current = connection
      connection = undefined
      client = undefined
      if (!current || current === options.client) return
      if (current.status !== 'ready') return current.disconnect()
      await current.quit().catch(() => current.disconnect())
    },

    describe: () => description,
    client: () => {
      client ??= redisClient(context)
      return client
    },
    ledger: redisLedger(context),
    ...leaseMembers(context),
  }
}

function leaseMembers(context: RedisContext): Pick<Adapter, 'acquire' | 'inspectLease' | 'breakLease'> {
  const lease = redisLease(context)
  return { acquire: lease.acquire, inspectLease: lease.inspect, breakLease: lease.breakLease }
}

/** A client that fails fast: an unreachable server is an error in seconds, not retries forever. */
function connect(options: RedisStoreOptions): RedisConnection {
  const failFast = { connectTimeout: DEFAULT_CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 1 }
  if (options.url !== undefined) {
    return new Redis(options.url, {
      ...failFast,
      lazyConnect: true,
      retryStrategy: (times) => Math.min(times * 100, 1_000),
    })
  }
  const cluster = options.cluster!
  return new Cluster(cluster.nodes, {
    // commands wait for no reconnection: a cluster that is down fails the run at once
    enableOfflineQueue: false,
    ...cluster.options,
    lazyConnect: true,
    redisOptions: { ...failFast, ...cluster.options?.redisOptions },
  })
}

/**
 * Connecting and the first PING, bounded in time: a user's client may retry forever, and an
 * ioredis Cluster whose nodes serve no slots waits for them forever.
 */
async function withDeadline(context: RedisContext, connecting: Promise<unknown>): Promise<void> {
  const limitMs = 2 * DEFAULT_CONNECT_TIMEOUT_MS
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = context.lastError === undefined ? '' : `; last error: ${messageOf(context.lastError)}`
      reject(new Error(`connect ETIMEDOUT: not ready after ${limitMs / 1000}s${why}`))
    }, limitMs)
  })
  try {
    await Promise.race([connecting, deadline])
  } catch (error) {
    throw redisError(context, 'connect', error)
  } finally {
    clearTimeout(timer)
  }
}
