import { resolve } from 'node:path'
import { type Adapter, FluxError } from '@flux/core'
import pg from 'pg'
import { type Driver, type PgClient, pgClientOf, pgliteDriver, type Queryable, serverDriver } from './pg-client.ts'
import { type PgLease, tableLease } from './pg-lease.ts'
import { advisoryLease } from './pg-lease-advisory.ts'
import { pgLedger, type TableState } from './pg-ledger.ts'
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  type PgliteInstance,
  type PgSettings,
  type PgStoreOptions,
  resolveSettings,
  scrub,
} from './pg-options.ts'
import { openPglite } from './pg-pglite.ts'
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
  const settings = resolveSettings(options)
  const pgliteDir =
    typeof options.pglite === 'string' && !options.pglite.includes('://') ? resolve(options.pglite) : options.pglite
  const tables: TableState = { ledger: false }
  let driver: Driver | undefined
  const current = (): Driver => {
    if (driver) return driver
    throw new FluxError('STORE_ERROR', `${settings.description} is not open`, {
      hint: 'call open() before using the store (core does)',
    })
  }
  const pool: Queryable = { query: (text, params) => current().pool.query(text, params) }
  const client = pgClientOf(pool)
  const lease: PgLease = settings.lock === 'advisory' ? advisoryLease(settings, current) : tableLease(settings, current)

  return {
    specVersion: 'v1',
    kind: 'pg',
    capabilities: { transactions: true },
    migrationFiles: { extensions: [SQL_MIGRATION_EXTENSION], load: loadSqlMigration },

    async open() {
      if (driver) return
      let opened: Driver | undefined
      try {
        opened = await connect(options, pgliteDir, settings)
        await opened.check()
      } catch (error) {
        await opened?.close().catch(() => {})
        throw FluxError.is(error) ? error : unavailable(settings, error)
      }
      driver = opened
      // a session of its own for the lease connects while the run loads and plans (a second
      // connection, closed unused by commands that take no lease)
      if (options.url && settings.lock === 'advisory') lease.warm?.()
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
    ledger: pgLedger(settings, pool, tables, false),
    acquire: (acquireOptions) => lease.acquire(acquireOptions),
    inspectLease: () => lease.inspect(),
    breakLease: () => lease.breakLease(),

    async transaction(fn) {
      // tables created in the transaction exist for the adapter only once it commits
      const local: TableState = { ...tables }
      const result = await current().transaction((connection) =>
        fn(pgClientOf(connection), pgLedger(settings, connection, local, true)),
      )
      tables.ledger ||= local.ledger
      return result
    },

    async transactionBatch(fns, batchOptions) {
      const local: TableState = { ...tables }
      const outcome = await current().batch(
        fns.map((fn) => (connection) => fn(pgClientOf(connection), pgLedger(settings, connection, local, true))),
        batchOptions,
      )
      if (outcome.committed > 0) tables.ledger ||= local.ledger
      return outcome
    },
  }
}

async function connect(
  options: PgStoreOptions,
  pgliteDir: PgStoreOptions['pglite'],
  settings: PgSettings,
): Promise<Driver> {
  if (options.pool) return serverDriver(options.pool, false, undefined)
  if (options.url) {
    const config: pg.PoolConfig = {
      connectionString: options.url,
      keepAlive: true,
      connectionTimeoutMillis: /[?&]connect_timeout=/.test(options.url) ? undefined : DEFAULT_CONNECT_TIMEOUT_MS,
    }
    const pool = new pg.Pool(config)
    // an idle connection that breaks is dropped by the pool; unheard, its error would end the process
    pool.on('error', () => {})
    // the pool is flux's own; with an advisory lease its sessions are real ones (no pooler in
    // transaction mode, where the lease needs lock 'table'), so they may keep prepared statements
    return serverDriver(pool, true, { ...config, application_name: 'flux lease' }, settings.lock === 'advisory')
  }
  if (typeof pgliteDir !== 'string') return pgliteDriver(pgliteDir as PgliteInstance, false)
  return openPglite(pgliteDir, settings.description)
}

const REASONS: Record<string, [reason: string, hint: string]> = {
  ECONNREFUSED: ['connection refused', 'check that PostgreSQL is running and listens on that host and port'],
  ENOTFOUND: ['host not found', 'check the host name in the connection string'],
  EAI_AGAIN: ['host not found', 'check the host name in the connection string, and DNS'],
  ETIMEDOUT: ['timed out connecting', 'check that the server is reachable from here (firewall, VPN, port)'],
  '28P01': ['bad password', 'check the password in the connection string (usually from the environment)'],
  '28000': ['access refused', 'the server refused this user or address: check pg_hba.conf and the role'],
  '3D000': ['unknown database', 'create the database, or fix its name in the connection string'],
  '57P03': ['the server is starting up or shutting down', 'wait for the server to be ready, then run again'],
  '53300': ['too many connections', 'close idle connections or raise max_connections'],
  ERR_MODULE_NOT_FOUND: ['@electric-sql/pglite is not installed', 'install it: `npm install @electric-sql/pglite`'],
}

/** STORE_UNAVAILABLE saying what went wrong, with the target and never a password. */
function unavailable(settings: PgSettings, error: unknown): FluxError {
  const { code, message, errors } = error as { code?: string; message?: string; errors?: { message?: string }[] }
  const timedOut = /timeout/i.test(message ?? '')
  const [reason, hint] =
    REASONS[code ?? ''] ??
    (timedOut ? REASONS.ETIMEDOUT! : ['cannot connect', 'check the connection string and that the server is running'])
  const detail = scrub(message || errors?.[0]?.message || String(code ?? error), settings.secrets)
  const cause = Object.assign(new Error(detail), code === undefined ? {} : { code })
  return new FluxError('STORE_UNAVAILABLE', `cannot open ${settings.description}: ${reason} (${detail})`, {
    hint,
    cause,
    details: code === undefined ? undefined : { code },
  })
}
