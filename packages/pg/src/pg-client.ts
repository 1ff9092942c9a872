import type { BatchOptions, BatchOutcome } from '@flux/core'
import pg from 'pg'
import { type ConnectionSource, listened, transactionConnections } from './pg-connections.ts'
import { serverBatch, serverTransaction } from './pg-transaction.ts'

/** What a query gives back, from a server or from PGlite. */
export interface PgResult<Row = Record<string, unknown>> {
  rows: Row[]
  /** Rows returned or changed by the (last) statement. */
  rowCount: number
}

/**
 * What a migration receives as `ctx.store` for a pg store: inside its transaction when it
 * runs in one. Both methods take one statement with parameters, or a script without.
 *
 * @example
 * ```ts
 * await store.query('create table hotel (id int primary key, name text not null)')
 * const { rows } = await store.sql<{ id: number }>`select id from hotel where name = ${name}`
 * ```
 */
export interface PgClient {
  /** Runs `text` with `$1, $2…` bound to `params`; without params, `text` may hold several statements. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<PgResult<Row>>
  /** A tagged template whose every `${value}` becomes a bound parameter, never SQL text. */
  sql<Row = Record<string, unknown>>(strings: TemplateStringsArray, ...values: unknown[]): Promise<PgResult<Row>>
}

/** Anything that sends one query: a pool, a connection, PGlite or one of its transactions. */
export interface Queryable {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<PgResult<Row>>
  /**
   * Where present (a server transaction): queues a statement without parameters, sent with
   * the next query or with COMMIT, whose failure then fails that query or the commit, with
   * the error `onError` makes of it (its `position` then counts from `text`).
   */
  defer?(text: string, onError?: (error: unknown) => unknown): void
  /**
   * With `defer`: whether statements queued with an `onError` (a migration's) wait to be sent
   * at the start of a script, so that the server's clock, which counts from the script's
   * start, times them (a ledger write then adds their time).
   */
  holdsDeferredWork?(): boolean
  /**
   * With `defer`: the name of statement `key` as prepared on this connection, its `PREPARE
   * <name> <definition>` queued first where it needs one; `undefined` where statements are not
   * prepared, and the statement itself is to be sent.
   */
  prepared?(key: string, definition: string): string | undefined
  /**
   * Where present (a PGlite transaction, which offers migrations no `defer`): queues one of
   * flux's own statements (a ledger write, a fence check), run before the transaction's next
   * query, or at its commit, whose failure then fails that query or the commit.
   */
  queueOwn?(text: string): void
}

/** A dedicated server session, held by an advisory lease for its whole life. */
export interface Session extends Queryable {
  /** False once the connection failed or ended: its locks are gone with it. */
  readonly alive: boolean
  /** Aborted when `alive` turns false, with the connection's error when it failed. */
  readonly ended: AbortSignal
  end(): Promise<void>
}

/** The connection behind one adapter: a server pool, or PGlite. */
export interface Driver {
  readonly pool: Queryable
  /** Fails when the database cannot be reached, authenticated to, or opened. */
  check(): Promise<void>
  /** BEGIN; fn on one connection; COMMIT, or ROLLBACK and rethrow what `fn` threw. */
  transaction<T>(fn: (connection: Queryable) => Promise<T>): Promise<T>
  /** Transactions one after another, sent together where the driver can (see `Adapter.transactionBatch`). */
  batch(
    fns: ReadonlyArray<(connection: Queryable) => Promise<void>>,
    options?: BatchOptions & { durableEveryMs?: number },
  ): Promise<BatchOutcome>
  /** A new session of its own (servers only); `signal` gives up connecting it. */
  session?(signal?: AbortSignal): Promise<Session>
  close(): Promise<void>
}

const DEFER = Symbol('flux.pg.defer')

export function pgClientOf(queryable: Queryable): PgClient {
  return Object.freeze({
    query: <Row>(text: string, params?: readonly unknown[]) => queryable.query<Row>(text, params),
    sql: <Row>(strings: TemplateStringsArray, ...values: unknown[]) =>
      queryable.query<Row>(
        strings.reduce((text, part, index) => `${text}$${index}${part}`),
        values,
      ),
    [DEFER]: queryable.defer?.bind(queryable),
  })
}

/**
 * The client's `defer()` where it has one (in a server transaction), for statements whose
 * results nobody reads: an SQL migration's, sent with the ledger write and COMMIT.
 */
export function deferOf(client: PgClient): Queryable['defer'] {
  return (client as unknown as Record<symbol, Queryable['defer']>)[DEFER]
}

function wrapPg(target: Pick<pg.ClientBase, 'query'>): Queryable {
  return {
    async query<Row>(text: string, params?: readonly unknown[]) {
      // node-postgres' callback form: with its promise form every result outlives a young-generation
      // GC, and V8 grows its new space to the maximum over a long copy (pg → mongo, 200k rows: peak
      // RSS 241 → 143 MB, the live heap flat either way)
      const result = await new Promise<pg.QueryResult | pg.QueryResult[]>((resolve, reject) => {
        target.query(text, (params ?? []) as unknown[], (error: Error, value: pg.QueryResult) =>
          error ? reject(error) : resolve(value),
        )
      })
      // a script of several statements gives one result per statement
      const last = Array.isArray(result) ? result[result.length - 1] : result
      return { rows: (last?.rows ?? []) as Row[], rowCount: last?.rowCount ?? 0 }
    },
  }
}

/**
 * Queries on a connection of the pool. `pool.query()` would destroy the connection after any
 * error, and the next query would pay for a new one (a ledger read on a new database fails on
 * the missing table, twice per run); an error the server sent leaves the session usable.
 */
function wrapPool(pool: ConnectionSource): Queryable {
  return {
    async query<Row>(text: string, params?: readonly unknown[]) {
      const client = listened(await pool.connect())
      let broken: Error | undefined
      try {
        return await wrapPg(client).query<Row>(text, params)
      } catch (error) {
        if (!isSessionIntact(error)) broken = error as Error
        throw error
      } finally {
        pool.release(client, broken)
      }
    },
  }
}

function isSessionIntact(error: unknown): boolean {
  return error instanceof pg.DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC'
}

/**
 * A server driver over a pool; `owned` pools (from `url`) are ended by `close()`. `prepares`:
 * transactions may prepare statements on its connections (see {@link transactionConnections}).
 * Sessions of their own (a lease's) are new connections made with `sessionConfig`, or taken
 * from `leaseSessions` and given back once their advisory locks are freed, or else taken from
 * the pool and ended.
 */
export function serverDriver(
  pool: ConnectionSource,
  owned: boolean,
  sessionConfig: pg.ClientConfig | undefined,
  prepares = false,
  leaseSessions?: ConnectionSource,
): Driver {
  const connections = transactionConnections(pool, prepares)
  const queryable = wrapPool(pool)
  return {
    pool: {
      query(text, params) {
        // a migration run outside a transaction may drop what the pool's sessions prepared
        connections.ran(text)
        // the connection kept for a next transaction serves this query rather than a new one
        connections.drop()
        return queryable.query(text, params)
      },
    },
    async check() {
      // a connection is only handed out once the server accepted user, password and database;
      // it stays in the pool for the ledger read that follows, so this costs no query
      pool.release(await pool.connect())
    },
    transaction: (fn) => serverTransaction(connections, fn),
    batch: (fns, options) => serverBatch(connections, fns, options),
    async session(signal) {
      let alive = true
      const ended = new AbortController()
      const onError = (error?: unknown) => {
        alive = false
        ended.abort(error)
      }
      // the connection failed or ended (rather than end() being called)
      let failed = false
      const onLost = (error?: unknown) => {
        failed = true
        onError(error)
      }
      let client: pg.Client | pg.PoolClient
      if (sessionConfig) {
        const own = new pg.Client(sessionConfig)
        own.on('error', onLost)
        own.on('end', onLost)
        // given up while connecting: its socket is dropped (end() alone leaves connect()
        // pending while the handshake is under way), and the wait ends at once
        let abandon = () => {}
        const abandoned = new Promise<never>((_, reject) => {
          abandon = () => {
            reject(new Error('the session was given up before it connected'))
            ;(own as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
          }
        })
        if (signal?.aborted) abandon()
        else signal?.addEventListener('abort', abandon, { once: true })
        const connecting = own.connect()
        try {
          await Promise.race([connecting, abandoned])
        } catch (error) {
          connecting.catch(() => {})
          await own.end().catch(() => {})
          throw error
        } finally {
          signal?.removeEventListener('abort', abandon)
        }
        client = own
      } else {
        client = await (leaseSessions ?? pool).connect()
        client.on('error', onLost)
        client.on('end', onLost)
      }
      const queryable = wrapPg(client)
      return {
        get alive() {
          return alive
        },
        ended: ended.signal,
        query: (text, params) => queryable.query(text, params),
        async end() {
          onError()
          if (!('release' in client)) {
            await client.end().catch(() => {})
            return
          }
          client.off('error', onLost)
          client.off('end', onLost)
          if (leaseSessions && !failed) {
            // given back for the next lease once it holds no lock; ended if that fails
            const broken = await client.query('select pg_advisory_unlock_all()').then(
              () => undefined,
              (error: Error) => error,
            )
            leaseSessions.release(client, broken)
            return
          }
          // ending the session is what frees its advisory locks for sure
          pool.release(client, true)
        },
      }
    },
    async close() {
      connections.drop()
      if (owned) await pool.end()
    },
  }
}
