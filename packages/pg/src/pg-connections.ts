import type pg from 'pg'

/** What a server driver takes its connections from: a pool, or its share of one. */
export interface ConnectionSource {
  connect(): Promise<pg.PoolClient>
  /** Gives a connection back; `broken` (an error, or `true`): it is destroyed. */
  release(client: pg.PoolClient, broken?: Error | boolean): void
  /** Callers waiting for a connection. */
  readonly waitingCount: number
  end(): Promise<void>
}

/** `pool` as a {@link ConnectionSource}. */
export function poolSource(pool: pg.Pool): ConnectionSource {
  return {
    connect: () => pool.connect(),
    release: (client, broken) => client.release(broken),
    get waitingCount() {
      return pool.waitingCount
    },
    end: () => pool.end(),
  }
}

const LISTENED = new WeakSet<pg.ClientBase>()
const FAILED = new WeakSet<pg.ClientBase>()

/**
 * `client` with an 'error' listener, once. node-postgres emits 'error' on a client whose
 * connection fails (reset, cut, terminated by the server) even while a query of it is under
 * way, and a pool listens only on its idle clients: unheard, the error would end the process.
 * The client itself fails its query in progress and the next ones; the listener records that
 * it failed, so that a connection kept for the next transaction is not handed out dead.
 */
export function listened<Client extends pg.ClientBase>(client: Client): Client {
  if (!LISTENED.has(client)) {
    LISTENED.add(client)
    client.on('error', () => {
      FAILED.add(client)
    })
  }
  return client
}

/** Whether `client`'s connection failed since it was handed out (see {@link listened}). */
export function failed(client: pg.ClientBase): boolean {
  return FAILED.has(client)
}

const DROPS_PREPARED = /\b(?:deallocate|discard)\b/i

/** Whether a statement may drop the session's prepared statements (`DEALLOCATE`, `DISCARD`). */
export function mayDropPrepared(text: string): boolean {
  return DROPS_PREPARED.test(text)
}

/**
 * Where server transactions get their connection and give it back, and what each connection
 * has prepared. The connection of a transaction is kept for the next one started in the same
 * turn of the event loop (the runner starts a step's as soon as the one before commits), and
 * goes back to the pool after that turn, or at once when someone waits for one: a checkout
 * costs tens of microseconds, which a thousand steps feel.
 */
export interface TransactionConnections {
  take(): Promise<pg.PoolClient>
  /** `broken`: the connection is destroyed. */
  give(client: pg.PoolClient, broken: Error | undefined): void
  /** Gives back a connection kept for the next transaction. */
  drop(): void
  /**
   * The name under which `client` has the statement `key` prepared, or will have once the
   * `PREPARE` it then needs has run; `undefined` where statements are not prepared (a pool
   * that is not flux's own, or that may sit behind a pooler in transaction mode).
   */
  statement(client: pg.PoolClient, key: string): { name: string; prepared: boolean } | undefined
  /** Records that the `PREPARE` of `name` ran on `client`. */
  prepared(client: pg.PoolClient, name: string): void
  /** After `text` ran: if it may have dropped prepared statements, they are prepared anew, under new names. */
  ran(text: string): void
  /** Every connection prepares its statements anew, under new names. */
  forget(): void
}

/**
 * Connections of `pool`. `prepares`: statements may be prepared on them (SQL-level PREPARE,
 * which lasts as long as the session: only where flux owns the pool and sessions are real).
 */
export function transactionConnections(pool: ConnectionSource, prepares: boolean): TransactionConnections {
  let kept: pg.PoolClient | undefined
  // names carry a generation, so a statement is never prepared twice under one name
  let generation = 0
  const preparedOn = new WeakMap<pg.PoolClient, Set<string>>()
  const drop = () => {
    const client = kept
    kept = undefined
    if (client) pool.release(client)
  }
  const forget = () => {
    generation += 1
  }
  return {
    async take() {
      const client = kept
      kept = undefined
      if (client && !FAILED.has(client)) return client
      // a kept connection that failed meanwhile is destroyed; a new one is taken
      if (client) pool.release(client, true)
      return listened(await pool.connect())
    },
    give(client, broken) {
      if (broken || kept || pool.waitingCount > 0) {
        pool.release(client, broken)
        return
      }
      kept = client
      setImmediate(() => {
        if (kept === client) drop()
      })
    },
    drop,
    statement(client, key) {
      if (!prepares) return undefined
      const name = `${key}_${generation}`
      return { name, prepared: preparedOn.get(client)?.has(name) === true }
    },
    prepared(client, name) {
      const names = preparedOn.get(client)
      if (names) names.add(name)
      else preparedOn.set(client, new Set([name]))
    },
    ran(text) {
      if (mayDropPrepared(text)) forget()
    },
    forget,
  }
}
