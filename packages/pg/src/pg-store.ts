import { resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { type Adapter, FluxError, unsetStore } from '@flux/core'
import pg from 'pg'
import { autogenerate } from './autogenerate/pg-autogenerate.ts'
import { lintMigrations } from './lint/pg-lint.ts'
import { type Driver, type PgClient, pgClientOf, type Queryable, serverDriver } from './pg-client.ts'
import { poolSource } from './pg-connections.ts'
import { connectionLost, isConnectionError, unavailable } from './pg-errors.ts'
import { type Fence, fenceRefusal, isFenceRefusal, takenOver } from './pg-fence.ts'
import { pgFleetBoard } from './pg-fleet-board.ts'
import { leaseNow, type PgLease, tableLease } from './pg-lease.ts'
import { advisoryLease, sessionNames } from './pg-lease-advisory.ts'
import { pgLedger, type TableState } from './pg-ledger.ts'
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_LEDGER_TABLE,
  FLEETS_TABLE_SUFFIX,
  LOCK_TABLE_SUFFIX,
  type PgliteInstance,
  type PgSettings,
  type PgStoreOptions,
  resolveSettings,
  validateIdentifier,
} from './pg-options.ts'
import { openPglite, pgliteDriver } from './pg-pglite.ts'
import { fasterScram } from './pg-scram.ts'
import { sharedConnections } from './pg-shared-pool.ts'
import { loadSqlMigration, SQL_MIGRATION_EXTENSION } from './pg-sql-file.ts'

/**
 * A PostgreSQL store: a server reached with node-postgres, or an embedded PGlite database.
 * The ledger is the table `<schema>.<ledgerTable>`, created on first write; each migration
 * commits in one transaction with its ledger row.
 *
 * @example
 * ```ts
 * export default defineConfig({
 *   stores: {
 *     catalog: pgStore({ url: process.env.DATABASE_URL }),
 *     local: pgStore({ pglite: './var/pg' }),
 *   },
 * })
 * ```
 */
export function pgStore(options: PgStoreOptions): Adapter<PgClient> {
  let settings: PgSettings
  try {
    settings = resolveSettings(options)
  } catch (error) {
    // no url (an unset DATABASE_URL): commands that open no store still work
    const unset = unsetStore<PgClient>(error, {
      kind: 'pg',
      capabilities: { transactions: true },
      migrationFiles: SQL_FILES,
    })
    // linting opens no store
    return Object.assign(unset, { lint: lintMigrations })
  }
  const pgliteDir =
    typeof options.pglite === 'string' && !options.pglite.includes('://') ? resolve(options.pglite) : options.pglite
  const declared =
    options.declared === undefined ? undefined : { path: resolve(options.declared), display: options.declared }
  const declaredSchema =
    options.declaredSchema === undefined ? undefined : validateIdentifier('declaredSchema', options.declaredSchema)
  const tables: TableState = { ledger: false }
  let driver: Driver | undefined
  const current = (): Driver => {
    if (driver) return driver
    throw new FluxError('STORE_ERROR', `${settings.description} is not open`, {
      hint: 'call open() before using the store (core does)',
    })
  }
  const fence: Fence = { held: undefined }
  const pool: Queryable = { query: (text, params) => current().pool.query(text, params) }
  const lease: PgLease =
    settings.lock === 'advisory' ? advisoryLease(settings, current, fence) : tableLease(settings, current, fence)
  const ledger = pgLedger(settings, pool, tables, false, fence)

  /**
   * What a failed write is reported as: refused by the fence, LEASE_LOST naming the holder; a
   * lost connection while holding a lease that was meanwhile taken over, LEASE_LOST too (a
   * take-over ends the stale holder's sessions); any other lost connection, STORE_UNAVAILABLE.
   */
  const explain = async (what: string, error: unknown): Promise<unknown> => {
    if (isFenceRefusal(error)) return fenceRefusal(settings, what, error)
    // a migration that failed because the lease was taken over (see `guarded`) says so
    const lost = lostLeaseIn(error, settings)
    if (lost) return lost
    if (settings.source === 'pglite' || !isConnectionError(error)) return error
    const held = fence.held
    if (held !== undefined) {
      // a take-over ends the stale holder's sessions first (the idle ones of its pool too: a
      // first look may fail on one), then writes its own lease row once their lock is free. So
      // while the server answers and the row is still ours, look again a while; a server that
      // does not answer twice in a row is down, not taking over
      const deadline = Date.now() + TAKE_OVER_WAIT_MS
      let unanswered = 0
      for (;;) {
        const now = await leaseNow(pool, settings, held).catch(() => undefined)
        if (now && !now.current) return takenOver(settings, what, now.holder, error)
        unanswered = now ? 0 : unanswered + 1
        if (unanswered >= 2 || Date.now() >= deadline) break
        await sleep(50)
      }
    }
    return connectionLost(settings, what, error)
  }
  const explained = async <T>(what: string, call: () => Promise<T>): Promise<T> => {
    try {
      return await call()
    } catch (error) {
      throw await explain(what, error)
    }
  }
  // what migrations run outside a transaction: a lost connection is named as such
  const client = pgClientOf({
    query: <Row>(text: string, params?: readonly unknown[]) =>
      explained('run a query', () => pool.query<Row>(text, params)),
  })
  // and in one: a take-over ends the stale runner's sessions, whose queries then fail
  const guarded = (connection: Queryable): Queryable => ({
    ...connection,
    query: <Row>(text: string, params?: readonly unknown[]) =>
      connection.query<Row>(text, params).catch(async (error: unknown) => {
        throw await explain('run a query', error)
      }),
  })

  return {
    specVersion: 'v1',
    kind: 'pg',
    capabilities: { transactions: true },
    migrationFiles: SQL_FILES,
    lint: lintMigrations,

    async open(openOptions) {
      if (driver) return
      let opened: Driver | undefined
      try {
        opened = await connect(options, pgliteDir, settings, openOptions?.shared)
        await opened.check()
      } catch (error) {
        await opened?.close().catch(() => {})
        throw FluxError.is(error) ? error : unavailable(settings, error)
      }
      driver = opened
      // a session of its own for the lease connects while the run loads and plans (a second
      // connection, closed unused when no lease is taken after all); not when core expects none
      if (options.url && settings.lock === 'advisory' && openOptions?.leaseLikely !== false) lease.warm?.()
    },

    async close() {
      const closing = driver
      driver = undefined
      // a lease still held ends with its session (core releases leases before, on every path)
      await lease.close()
      await closing?.close()
    },

    describe: () => settings.description,
    client: () => client,
    ledger: {
      read: () => explained('read the ledger', () => ledger.read()),
      record: (entry) => explained(`record ${entry.id} in the ledger`, () => ledger.record(entry)),
      remove: (id) => explained(`remove ${id} from the ledger`, () => ledger.remove(id)),
    },
    acquire: (acquireOptions) => lease.acquire(acquireOptions),
    fleetBoard: pgFleetBoard(settings, {
      query: (text, params) => explained('use the fleet board', () => pool.query(text, params)),
    }),
    inspectLease: () => lease.inspect(),
    breakLease: () => lease.breakLease(),

    async transaction(fn) {
      // tables created in the transaction exist for the adapter only once it commits
      const local: TableState = { ...tables }
      const result = await explained(COMMIT, () =>
        current().transaction((connection) =>
          fn(pgClientOf(guarded(connection)), pgLedger(settings, connection, local, true, fence)),
        ),
      )
      tables.ledger ||= local.ledger
      return result
    },

    async autogenerate(autogenerateOptions) {
      if (!declared) {
        throw new FluxError('CONFIG_INVALID', `${settings.description} declares no schema to compare with`, {
          hint: "add declared: 'db/schema.sql' (a file of CREATE statements, relative to the config's folder), or declared: 'db/schema.ts' (a Drizzle schema module), to its pgStore() options",
        })
      }
      const ledger = options.ledgerTable ?? DEFAULT_LEDGER_TABLE
      return explained('compare the store with its declared schema', () =>
        autogenerate(
          current(),
          {
            ...declared,
            schema: declaredSchema,
            ledgerSchema: settings.schema,
            ledgerTables: [ledger, `${ledger}${LOCK_TABLE_SUFFIX}`, `${ledger}${FLEETS_TABLE_SUFFIX}`],
          },
          autogenerateOptions?.renames,
        ),
      )
    },

    async transactionBatch(fns, batchOptions) {
      const local: TableState = { ...tables }
      const outcome = await current().batch(
        fns.map(
          (fn) => (connection) =>
            fn(pgClientOf(guarded(connection)), pgLedger(settings, connection, local, true, fence)),
        ),
        { ...batchOptions, durableEveryMs: settings.durableEveryMs },
      )
      if (outcome.committed > 0) tables.ledger ||= local.ledger
      if (outcome.failed) outcome.failed.error = await explain(COMMIT, outcome.failed.error)
      return outcome
    },
  }
}

/**
 * A driver over the user's own pool, never ended by flux. A pool emits 'error' when one of its
 * idle connections breaks, and the process ends if nobody listens: while the store is open,
 * flux listens on a pool that has no listener of its own (and stops at close()).
 */
function userPool(pool: pg.Pool): Driver {
  const driver = serverDriver(poolSource(pool), false, undefined)
  if (pool.listenerCount('error') > 0) return driver
  const ignore = () => {}
  pool.on('error', ignore)
  return {
    ...driver,
    async close() {
      pool.off('error', ignore)
      await driver.close()
    },
  }
}

/** The `LEASE_LOST` error of this store that `error` or one of its causes is: a migration wraps it. */
function lostLeaseIn(error: unknown, settings: PgSettings): FluxError | undefined {
  for (let current = error; FluxError.is(current); current = current.cause) {
    if (current.code === 'LEASE_LOST' && current.message.startsWith(`${settings.description}: `)) return current
  }
  return undefined
}

/** What a transaction failed to do when its ledger write was refused, or its connection lost. */
const COMMIT = 'commit a migration with its ledger write'

/**
 * How long a lease holder that lost a connection looks for a take-over's lease row before it
 * reports the lost connection: the taker ends the holder's sessions, then writes the row once
 * their lock is free, which a loaded server may take a second or two to do.
 */
const TAKE_OVER_WAIT_MS = 3_000

async function connect(
  options: PgStoreOptions,
  pgliteDir: PgStoreOptions['pglite'],
  settings: PgSettings,
  shared: Map<string, unknown> | undefined,
): Promise<Driver> {
  if (options.pool) return userPool(options.pool)
  if (options.url) {
    fasterScram()
    const server: pg.PoolConfig = {
      connectionString: options.url,
      keepAlive: true,
      connectionTimeoutMillis: /[?&]connect_timeout=/.test(options.url) ? undefined : DEFAULT_CONNECT_TIMEOUT_MS,
    }
    if (shared) {
      // a fleet's member: the server's connections are shared with the other members
      const connections = sharedConnections(shared, server, settings.searchPathList)
      const driver = serverDriver(connections.source, false, undefined, false, connections.leases)
      return {
        ...driver,
        async close() {
          await driver.close()
          connections.release()
        },
      }
    }
    const config: pg.PoolConfig = {
      ...server,
      // checked identifiers: no space or quote to escape
      ...(settings.searchPathList ? { options: `-c search_path=${settings.searchPathList}` } : {}),
    }
    // named, so that a runner that takes the lease over from this one, frozen, can end them
    const names = sessionNames()
    const pool = new pg.Pool({ ...config, application_name: names.pool })
    // an idle connection that breaks is dropped by the pool; unheard, its error would end the process
    pool.on('error', () => {})
    // the pool is flux's own; with an advisory lease its sessions are real ones (no pooler in
    // transaction mode, where the lease needs lock 'table'), so they may keep prepared statements
    return serverDriver(
      poolSource(pool),
      true,
      { ...config, application_name: names.lease },
      settings.lock === 'advisory',
    )
  }
  if (typeof pgliteDir !== 'string') return pgliteDriver(pgliteDir as PgliteInstance, false)
  return openPglite(pgliteDir, settings.description)
}

/** `.sql` migration files, which pg stores load. */
const SQL_FILES = { extensions: [SQL_MIGRATION_EXTENSION], load: loadSqlMigration }
