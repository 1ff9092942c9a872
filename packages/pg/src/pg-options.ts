import { createHash } from 'node:crypto'
import { FluxError } from '@flux/core'
import type { Pool } from 'pg'

/** Schema of the ledger and lock tables unless `schema` is given. */
export const DEFAULT_SCHEMA = 'public'
/** Name of the ledger table unless `ledgerTable` is given; the lock table is `<ledgerTable>_lock`. */
export const DEFAULT_LEDGER_TABLE = 'flux_ledger'
/** Suffix of the lock table's name: `flux_ledger_lock`. */
export const LOCK_TABLE_SUFFIX = '_lock'
/** The fleet boards' table is the ledger table's name with this suffix. */
export const FLEETS_TABLE_SUFFIX = '_fleets'
/** How long `open()` waits for a server to accept a connection, unless the URL sets `connect_timeout`. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000

/** How runners exclude each other: see {@link PgStoreOptions.lock}. */
export type PgLockMode = 'advisory' | 'table'

/** The part of a PGlite instance the adapter uses, so `@electric-sql/pglite` stays an optional peer. */
export interface PgliteInstance {
  query<Row>(text: string, params?: unknown[]): Promise<{ rows: Row[]; rowCount?: number; affectedRows?: number }>
  exec(text: string): Promise<{ rows: unknown[]; rowCount?: number; affectedRows?: number }[]>
  transaction<T>(fn: (transaction: Omit<PgliteInstance, 'transaction' | 'close'>) => Promise<T>): Promise<T>
  close(): Promise<void>
}

/** See {@link PgStoreOptions.durableEveryMs}. */
export const DEFAULT_DURABLE_EVERY_MS = 250

export interface PgStoreOptions {
  /**
   * A connection string, `postgres://user:password@host:port/database`: a pool is created in
   * `open()`. Typed to take `process.env.DATABASE_URL` as it is: when it is unset, flux names
   * the store and the variable.
   */
  url?: string | undefined
  /**
   * Your own `pg` Pool instead of `url`; flux never ends it. While the store is open, flux
   * listens for the pool's 'error' events if nothing else does (a pool emits one when an idle
   * connection breaks, which ends the process when unheard), and stops listening at close().
   */
  pool?: Pool | undefined
  /**
   * An embedded PGlite database instead of a server: a data directory (`./var/pg`),
   * `memory://`, or your own PGlite instance (never closed by flux). Needs `@electric-sql/pglite`.
   */
  pglite?: string | PgliteInstance | undefined
  /** Schema of the ledger and lock tables. Default {@link DEFAULT_SCHEMA}. */
  schema?: string
  /**
   * The `search_path` of the connections flux opens (with `url`): where migrations' unqualified
   * names resolve, e.g. `['tenant_acme']` for a fleet member's schema (see `fleet()` in
   * @flux/core). Default: the server's (normally `"$user", public`).
   */
  searchPath?: string | readonly string[] | undefined
  /** Name of the ledger table. Default {@link DEFAULT_LEDGER_TABLE}. */
  ledgerTable?: string
  /**
   * `advisory` (default on servers): a session advisory lock held on a dedicated connection;
   * a runner that dies releases it at once. `table`: a lease row with an expiry in
   * `<ledgerTable>_lock`, for PgBouncer in transaction pooling mode, where session locks do
   * not work. PGlite always uses `table`: it has one session, on which advisory locks are re-entrant.
   * In both modes the lease row carries the fencing token, which every ledger write checks in
   * its transaction. With `url` and `advisory`, flux's connections are named (`application_name`
   * `flux <pid>.<random>`, `flux lease …`) so that a runner taking over a frozen one's lease
   * ends them too.
   */
  lock?: PgLockMode
  /**
   * While a batch of `.sql` migrations runs, how long at most between waits for the disk: the
   * last commit of a script waits when the previous wait was this long ago, and the batch's last
   * commit always does (each wait makes every commit before it durable). A migration is reported
   * applied once durable. Default 250 ms; 0: at the end of every script of 32.
   */
  durableEveryMs?: number
  /**
   * The schema the application declares for this store: a desired-state SQL file of CREATE
   * TABLE, CREATE INDEX, CREATE TYPE … AS ENUM, CREATE VIEW and CREATE SEQUENCE statements
   * (`'db/schema.sql'`), relative to the config's folder. `flux new <name> --autogenerate --store <store>` compares the store
   * with it and writes a candidate migration for review; nothing is applied. The file runs in
   * a scratch schema inside a transaction that is always rolled back. Or a Drizzle schema module
   * (`'db/schema.ts'`, `.mts`, `.js`, `.mjs`) exporting `pgTable`s and `pgEnum`s, whose CREATE
   * statements drizzle-kit's API writes (install drizzle-kit and drizzle-orm).
   */
  declared?: string | undefined
  /**
   * The live schema that `declared` describes: default the connection's `current_schema()`,
   * the first existing schema of its `search_path` (normally `public`), where the application's
   * tables are. (`schema` places only flux's ledger, whose tables are never compared.) When it
   * is not the connections' current schema, a generated migration begins with `set local
   * search_path` to it.
   */
  declaredSchema?: string | undefined
}

/** Everything the adapter derives from its options, once. */
export interface PgSettings {
  readonly source: 'url' | 'pool' | 'pglite'
  /** `searchPath`, checked; set on every connection flux opens. */
  readonly searchPath: readonly string[] | undefined
  readonly lock: PgLockMode
  readonly durableEveryMs: number
  /** `"schema"."flux_ledger"`, quoted. */
  readonly ledgerTable: string
  /** `"schema"."flux_ledger_lock"`, quoted. */
  readonly lockTable: string
  /** `"schema"."flux_ledger_fleets"`, quoted: the fleet boards kept in this store. */
  readonly fleetsTable: string
  /** `'"schema"."flux_ledger"'` as an SQL string literal, for `to_regclass`. */
  readonly ledgerLiteral: string
  readonly lockLiteral: string
  readonly fleetsLiteral: string
  /** `searchPath` as SQL, quoted and separated by commas. */
  readonly searchPathList: string | undefined
  /** `'"schema"'`, for `to_regnamespace`. */
  readonly schemaLiteral: string
  readonly schema: string
  /** The two int4 keys of the lease's advisory lock, from schema and ledger table. */
  readonly leaseKey: readonly [number, number]
  /** The advisory key that serializes creating this schema's tables. */
  readonly ddlKey: readonly [number, number]
  /** `pg 127.0.0.1:5432/app`, `pg pglite ./var/pg`: never a user or a password. */
  readonly description: string
  /** Strings to scrub from driver messages: the password and the whole URL. */
  readonly secrets: readonly string[]
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/** Checks a schema or table name, so it can be double-quoted into SQL safely. */
export function validateIdentifier(what: string, value: unknown): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new FluxError('CONFIG_INVALID', `pgStore() got an invalid ${what} ${JSON.stringify(value)}`, {
      hint: `${what} must be a letter or _ followed by up to 62 letters, digits or _`,
    })
  }
  return value
}

export function quoteIdentifier(name: string): string {
  return `"${name}"`
}

export function resolveSettings(options: PgStoreOptions): PgSettings {
  const given = (['url', 'pool', 'pglite'] as const).filter((key) => options?.[key] !== undefined)
  if (given.length !== 1) {
    throw new FluxError('CONFIG_INVALID', `pgStore() needs exactly one of url, pool or pglite; got ${given.length}`, {
      hint: "pass pgStore({ url: process.env.DATABASE_URL }), or pgStore({ pglite: './var/pg' }) for an embedded database",
      // core names the store, and the unset variable behind a missing option
      details: given.length === 0 ? { missing: ['url', 'pool', 'pglite'] } : undefined,
    })
  }
  const source = given[0]!
  if (source === 'url' && (typeof options.url !== 'string' || options.url === '')) {
    throw new FluxError('CONFIG_INVALID', 'pgStore() got an empty url', {
      hint: 'is the environment variable that holds the connection string set?',
      details: { missing: ['url'] },
    })
  }
  const schema = validateIdentifier('schema', options.schema ?? DEFAULT_SCHEMA)
  const ledger = validateIdentifier('ledgerTable', options.ledgerTable ?? DEFAULT_LEDGER_TABLE)
  const lock = validateIdentifier('ledgerTable', `${ledger}${LOCK_TABLE_SUFFIX}`)
  if (options.lock !== undefined && options.lock !== 'advisory' && options.lock !== 'table') {
    throw new FluxError('CONFIG_INVALID', `pgStore() got an invalid lock ${JSON.stringify(options.lock)}`, {
      hint: "lock is 'advisory' (default) or 'table'",
    })
  }
  if (source === 'pglite' && options.lock === 'advisory') {
    throw new FluxError('CONFIG_INVALID', "pgStore() cannot use lock: 'advisory' with pglite", {
      hint: 'PGlite has a single session, on which advisory locks are re-entrant; leave lock out (it uses a lease row)',
    })
  }
  const durableEveryMs = options.durableEveryMs ?? DEFAULT_DURABLE_EVERY_MS
  if (!Number.isFinite(durableEveryMs) || durableEveryMs < 0) {
    throw new FluxError('CONFIG_INVALID', `pgStore() got an invalid durableEveryMs ${JSON.stringify(durableEveryMs)}`, {
      hint: 'a number of milliseconds ≥ 0 (default 250; 0 waits for the disk at the end of every script)',
    })
  }
  const searchPath =
    options.searchPath === undefined
      ? undefined
      : [options.searchPath].flat().map((name) => validateIdentifier('searchPath entry', name))
  if (searchPath !== undefined && source !== 'url') {
    throw new FluxError('CONFIG_INVALID', `pgStore() takes searchPath only with url, not with ${source}`, {
      hint:
        source === 'pool'
          ? "set it on your own pool (options: '-c search_path=…'), or in the migrations"
          : 'set it in the migrations (`set search_path to …`)',
    })
  }
  if (searchPath !== undefined && searchPath.length === 0) {
    throw new FluxError('CONFIG_INVALID', 'pgStore() got an empty searchPath', {
      hint: "name a schema, e.g. searchPath: ['tenant_acme']",
    })
  }
  const ledgerTable = `${quoteIdentifier(schema)}.${quoteIdentifier(ledger)}`
  const lockTable = `${quoteIdentifier(schema)}.${quoteIdentifier(lock)}`
  const fleetsTable = `${quoteIdentifier(schema)}.${quoteIdentifier(`${ledger}${FLEETS_TABLE_SUFFIX}`)}`
  const target = describeTarget(options, source)
  return {
    source,
    searchPath,
    lock: source === 'pglite' ? 'table' : (options.lock ?? 'advisory'),
    durableEveryMs,
    ledgerTable,
    lockTable,
    ledgerLiteral: `'${ledgerTable}'`,
    lockLiteral: `'${lockTable}'`,
    fleetsTable,
    fleetsLiteral: `'${fleetsTable}'`,
    searchPathList: searchPath?.map(quoteIdentifier).join(','),
    schemaLiteral: `'${quoteIdentifier(schema)}'`,
    schema,
    leaseKey: keyOf(`flux lease ${schema}.${ledger}`),
    ddlKey: keyOf(`flux ddl ${schema}`),
    description: `pg ${target.text}`,
    secrets: target.secrets,
  }
}

/** A stable pair of non-negative int4 from a name: advisory locks of other ledgers never collide with it. */
function keyOf(name: string): [number, number] {
  const digest = createHash('sha256').update(name).digest()
  return [digest.readUInt32BE(0) & 0x7fffffff, digest.readUInt32BE(4) & 0x7fffffff]
}

function describeTarget(options: PgStoreOptions, source: PgSettings['source']): { text: string; secrets: string[] } {
  if (source === 'pglite') {
    return { text: typeof options.pglite === 'string' ? `pglite ${options.pglite}` : 'pglite (instance)', secrets: [] }
  }
  if (source === 'url') return describeUrl(options.url!)
  const poolOptions = (options.pool as unknown as { options?: Record<string, unknown> }).options ?? {}
  if (typeof poolOptions.connectionString === 'string') return describeUrl(poolOptions.connectionString)
  const host = typeof poolOptions.host === 'string' ? poolOptions.host : 'localhost'
  const port = poolOptions.port ?? 5432
  const database = typeof poolOptions.database === 'string' ? `/${poolOptions.database}` : ''
  const password = typeof poolOptions.password === 'string' && poolOptions.password !== '' ? [poolOptions.password] : []
  return { text: `${host}:${port}${database}`, secrets: password }
}

/** `host:port/database` of a connection string, and the strings that must never be shown. */
export function describeUrl(url: string): { text: string; secrets: string[] } {
  const secrets = [url]
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return { text: '(unparsable connection string)', secrets }
  }
  if (parsed.password !== '') secrets.unshift(parsed.password, decodeURIComponent(parsed.password))
  const socket = parsed.searchParams.get('host')
  const host = parsed.hostname || socket || 'localhost'
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  return { text: `${host}:${parsed.port || '5432'}${database ? `/${database}` : ''}`, secrets }
}

/** Replaces every secret in `text` with `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let result = text
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    if (secret !== '') result = result.split(secret).join('***')
  }
  return result
}
