import pg from 'pg'
import { type ConnectionSource, failed, listened, poolSource } from './pg-connections.ts'
import { sessionNames } from './pg-lease-advisory.ts'

/**
 * The pools of one server and database shared by the stores opened with one `shared` map (the
 * members of a fleet of schemas, in one run): a member visited costs queries on connections
 * already open, for its migrations and for its lease, not two new sessions (on a server with
 * SCRAM, about 15 ms of CPU each, most of it the server's). The sessions carry one name pair
 * (`flux <tag>`, `flux lease <tag>`), as a store's own do, so that a runner taking a lease over
 * from this process, frozen, ends the holder's lease session and every session of the pool: they
 * may serve other members meanwhile, whose transactions then fail and are reported (the process
 * was frozen past a lease, its run ends in an error; nothing is applied twice).
 */
interface SharedPool {
  pool: pg.Pool
  /**
   * Sessions for leases, named as a store's own lease sessions are: each holds its lock for a
   * member's whole run, and goes back once the lock is freed. Not bounded (a member waiting
   * for one while others wait for its pool connection could wait for ever): as many as members
   * hold a lease at once, then the idle ones end after the pool's idle timeout.
   */
  leases: pg.Pool
  /** The store that made it, whose settings new connections start with. */
  maker: object
  /** The store each connection was last handed to, when not its maker. */
  owners: WeakMap<pg.PoolClient, object>
  /** Stores open on it. */
  users: number
  ending: NodeJS.Timeout | undefined
}

/**
 * How long a pool no open store uses is kept: a fleet's worker closes a member and opens the
 * next within a few turns of the event loop; a pool that nobody took meanwhile is ended.
 */
const LINGER_MS = 50

/** A pool size no run reaches. */
const UNBOUNDED = 100_000

/**
 * What `DISCARD ALL` does, spelled out: `DISCARD ALL` cannot run in the implicit transaction of
 * a script, and the search path rides in the same round trip.
 */
const RESET =
  'set session authorization default; reset all; deallocate all; close all; unlisten *; select pg_advisory_unlock_all(); discard plans; discard temp; discard sequences'

/**
 * Connections to `config`'s server for one store, from the pool kept in `shared` for it (made
 * on first use). A connection last handed to another store is reset first (as by `DISCARD ALL`: what
 * that store's migrations set in the session, a role, a search path, temporary tables, goes)
 * and given this store's `search_path` (`path`, quoted): each store sees sessions as if they were its own. The
 * reset and the path go in one round trip, once per store a connection serves in turn.
 */
export function sharedConnections(
  shared: Map<string, unknown>,
  config: pg.PoolConfig,
  path: string | undefined,
): { source: ConnectionSource; leases: ConnectionSource; release(): void } {
  const key = `pg\u0000${config.connectionString}\u0000${config.connectionTimeoutMillis ?? ''}`
  const me = {}
  let entry = shared.get(key) as SharedPool | undefined
  if (!entry) {
    const names = sessionNames()
    // its sessions start with the path of the store that made it: that store's first queries
    // (all of them, for a member alone on its server) need no setup
    const pool = new pg.Pool({
      ...config,
      application_name: names.pool,
      ...(path ? { options: `-c search_path=${path}` } : {}),
    })
    const leases = new pg.Pool({ ...config, application_name: names.lease, max: UNBOUNDED })
    // an idle connection that breaks is dropped by the pool; unheard, its error would end the process
    pool.on('error', () => {})
    leases.on('error', () => {})
    entry = { pool, leases, maker: me, owners: new WeakMap(), users: 0, ending: undefined }
    shared.set(key, entry)
  }
  const pooled = entry
  clearTimeout(pooled.ending)
  pooled.ending = undefined
  pooled.users += 1
  const setup = path ? `${RESET}; set search_path to ${path}` : RESET
  // connections this store had and gave back, kept for it (reset for it already) while nobody
  // else waits for one: its next transaction needs no reset
  const idle: pg.PoolClient[] = []
  let released = false
  return {
    leases: poolSource(pooled.leases),
    source: {
      async connect() {
        for (let client = idle.pop(); client; client = idle.pop()) {
          if (!failed(client)) return client
          client.release(true)
        }
        const client = listened(await pooled.pool.connect())
        if ((pooled.owners.get(client) ?? pooled.maker) !== me) {
          try {
            await client.query(setup)
          } catch (error) {
            client.release(error as Error)
            throw error
          }
          pooled.owners.set(client, me)
        }
        return client
      },
      release(client, broken) {
        if (broken || released || pooled.pool.waitingCount > 0) client.release(broken)
        else idle.push(client)
      },
      get waitingCount() {
        return pooled.pool.waitingCount
      },
      // ended with the last store that uses it (see release)
      end: async () => {},
    },
    release() {
      if (released) return
      released = true
      for (const client of idle.splice(0)) client.release(failed(client))
      pooled.users -= 1
      if (pooled.users > 0) return
      pooled.ending = setTimeout(() => {
        if (shared.get(key) === pooled) shared.delete(key)
        pooled.pool.end().catch(() => {})
        pooled.leases.end().catch(() => {})
      }, LINGER_MS)
    },
  }
}
