import { FluxError, messageOf } from '@flux/core'
import type { MongoClient } from 'mongodb'

/** Collection of the ledger: one document per applied migration, `_id` = migration id. */
export const DEFAULT_LEDGER_COLLECTION = 'flux_ledger'
/** Collection of the lease: one document per fencing epoch, `_id: 'lease-<epoch>'`, normally only the latest. */
export const DEFAULT_LOCK_COLLECTION = 'flux_lock'
/** How long `open()` (and any later operation) waits for an unreachable server before failing. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000

export interface MongoStoreOptions {
  /**
   * Connection string (`mongodb://user:password@host:27017/app`, `mongodb+srv://…`). flux
   * creates its own `MongoClient` in `open()` and closes it in `close()`. Give `url` or `client`.
   */
  url?: string | undefined
  /** Your own `MongoClient` (connected or not). flux uses it and never closes it. */
  client?: MongoClient | undefined
  /** Database of the store. Default: the database named in `url`. */
  database?: string
  /** Default {@link DEFAULT_LEDGER_COLLECTION}. */
  ledgerCollection?: string
  /** Default {@link DEFAULT_LOCK_COLLECTION}. */
  lockCollection?: string
  /**
   * MongoDB creates a database on its first write, so by default a database that does not
   * exist yet is a new, empty store. With `mustExist: true`, `open()` fails when the database
   * holds no collection: a misspelt name then fails instead of migrating an empty database.
   */
  mustExist?: boolean
  /**
   * Whether migrations run in a session transaction with their ledger record. Default: what
   * the server's `hello` says at `open()` (a replica set or a sharded cluster has them).
   * `true` declares them before `open()` and makes `open()` fail on a server without them.
   */
  transactions?: boolean
  /** Server selection and connection timeout of the client flux creates. Default {@link DEFAULT_CONNECT_TIMEOUT_MS}. */
  connectTimeoutMs?: number
  /**
   * The collections the application declares for this store: a TypeScript or JavaScript module
   * (`'db/mongo.ts'`, relative to the config's folder) whose default export is
   * `declareCollections({ users: { indexes: [...], validator: {...} } })`. `flux new <name>
   * --autogenerate --store <store>` compares the database with it (indexes besides `_id_`,
   * validators) and writes a candidate TypeScript migration for review; nothing is applied.
   */
  declared?: string | undefined
}

/** The options checked, with defaults applied, and what may be shown of the target. */
export interface MongoSettings {
  url: string | undefined
  client: MongoClient | undefined
  database: string
  ledgerCollection: string
  lockCollection: string
  mustExist: boolean
  transactions: boolean | undefined
  connectTimeoutMs: number
  /** `mongo 127.0.0.1:27017/app`: never a user name or password. */
  description: string
  /** Strings to scrub from driver messages: the URL's credentials, raw and decoded. */
  secrets: string[]
}

// credentials end at the last `@` of the whole URL: a password that was not percent-encoded
// (`p@ss/w?rd`) then still stays out of the description
const URL_PATTERN = /^(mongodb(?:\+srv)?):\/\/(?:(.*)@)?([^/?@]+)(?:\/([^?]*))?/

export function resolveSettings(options: MongoStoreOptions): MongoSettings {
  const invalid = (message: string, hint: string, missing?: string[]) =>
    // with `missing`, core names the store and the unset variable behind the option
    new FluxError('CONFIG_INVALID', message, { hint, details: missing ? { missing } : undefined })
  if ((options?.url === undefined) === (options?.client === undefined)) {
    throw invalid(
      'mongoStore() needs exactly one of `url` and `client`',
      'mongoStore({ url: process.env.MONGO_URL })',
      options?.url === undefined ? ['url', 'client'] : undefined,
    )
  }
  if (options.url === '') {
    throw invalid('mongoStore() got an empty `url`', 'mongoStore({ url: process.env.MONGO_URL })', ['url'])
  }
  let hosts: string
  let urlDatabase: string | undefined
  const secrets: string[] = []
  if (options.url !== undefined) {
    const match = typeof options.url === 'string' ? URL_PATTERN.exec(options.url) : null
    if (!match) {
      throw invalid(
        'mongoStore() got a `url` that is not a MongoDB connection string',
        'use mongodb://host:port/database or mongodb+srv://host/database',
      )
    }
    const [, scheme, userinfo, hostList, path] = match
    hosts = scheme === 'mongodb+srv' ? `${hostList} (srv)` : hostList!
    urlDatabase = path ? decode(path) : undefined
    if (userinfo) {
      secrets.push(userinfo)
      const password = userinfo.slice(userinfo.indexOf(':') + 1)
      if (userinfo.includes(':') && password !== '') secrets.push(password, decode(password))
    }
  } else {
    hosts = options.client!.options?.hosts?.map(String).join(',') || 'client'
  }
  const database = options.database ?? urlDatabase
  if (!database || /[/\\. "$\0]/.test(database) || database.length > 63) {
    throw invalid(
      database
        ? `mongoStore() got an invalid database name ${JSON.stringify(database)}`
        : 'mongoStore() needs a database',
      'pass `database`, or name it in the url: mongodb://host:27017/app',
    )
  }
  const collection = (value: string | undefined, fallback: string, what: string) => {
    const name = value ?? fallback
    if (typeof name !== 'string' || name === '' || /[$\0]/.test(name) || name.startsWith('system.')) {
      throw invalid(
        `mongoStore() got an invalid ${what} ${JSON.stringify(name)}`,
        `use a plain name like "${fallback}"`,
      )
    }
    return name
  }
  const ledgerCollection = collection(options.ledgerCollection, DEFAULT_LEDGER_COLLECTION, 'ledgerCollection')
  const lockCollection = collection(options.lockCollection, DEFAULT_LOCK_COLLECTION, 'lockCollection')
  if (ledgerCollection === lockCollection) {
    throw invalid('mongoStore(): ledgerCollection and lockCollection must differ', 'keep the defaults')
  }
  return {
    url: options.url,
    client: options.client,
    database,
    ledgerCollection,
    lockCollection,
    mustExist: options.mustExist === true,
    transactions: options.transactions,
    connectTimeoutMs: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    description: `mongo ${hosts}/${database}`,
    secrets: secrets.filter((secret) => secret.length > 0).sort((a, b) => b.length - a.length),
  }
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** `text` with credentials of any MongoDB URL, and the store's own secrets, replaced by `***`. */
export function scrub(settings: MongoSettings, text: string): string {
  let result = text.replace(/(mongodb(?:\+srv)?:\/\/)[^@/\s]*@/g, '$1***@')
  for (const secret of settings.secrets) result = result.split(secret).join('***')
  return result
}

/** A copy of a driver error whose message and stack show no secret, to attach as a cause. */
export function scrubbedError(settings: MongoSettings, error: unknown): Error {
  const copy = new Error(scrub(settings, messageOf(error)))
  const source = error as { name?: unknown; code?: unknown; codeName?: unknown; stack?: unknown }
  if (typeof source?.name === 'string') copy.name = source.name
  if (typeof source?.stack === 'string') copy.stack = scrub(settings, source.stack)
  return Object.assign(copy, { code: source?.code, codeName: source?.codeName })
}

/** A `STORE_ERROR` naming the target, for a driver error met while doing `action`. */
export function storeError(settings: MongoSettings, action: string, error: unknown, hint?: string): FluxError {
  if (FluxError.is(error)) return error
  const cause = scrubbedError(settings, error)
  return new FluxError('STORE_ERROR', `could not ${action} in ${settings.description}: ${cause.message}`, {
    hint,
    cause,
  })
}

/** The server's error code of a driver error (11000 for a duplicate key…), if any. */
export function codeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'number' ? code : undefined
}

export const DUPLICATE_KEY = 11000
/** What servers without a feature answer: CommandNotFound, CommandNotSupported, NotImplemented. */
export const UNSUPPORTED_CODES = new Set([59, 115, 238])
