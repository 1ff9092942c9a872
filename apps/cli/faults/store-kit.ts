// What the fault suite needs of a store: a fresh namespace per test on its real server, the
// config that points flux at it, and a way for migrations to record their own application in it
// that counts (a row, a document, a list item, a blob per application, tagged with the runner's
// pid), so the tests tell a double apply or a lost one independently of the ledger.
import { randomBytes } from 'node:crypto'
import type { Adapter } from '@flux/core'

export type StoreName = 'fs' | 'pglite' | 'pg' | 'redis' | 'redis-cluster' | 'mongo' | 's3'

/** One application of a migration, as the store itself recorded it. */
export interface Effect {
  /** The migration's name (`001_a`). */
  name: string
  /** Pid of the runner that applied it. */
  pid: number
}

/** A fresh namespace on one store (a schema, a database, a prefix, a folder), for one test. */
export interface Namespace {
  /** The store's factory call, for flux.config.ts. */
  config: string
  /** Statements for a migration's `up({ store })` that record one application of `name`, in its transaction where it has one. */
  effect(name: string): string
  /** Every application recorded in the store. */
  effects(): Promise<Effect[]>
  cleanup(): Promise<void>
}

export interface FaultStore {
  name: StoreName
  /** The environment variable naming the test server (set by `scripts/services env`); none for fs and PGlite. */
  variable?: string
  /** The config's import of the store's factory. */
  imports: string
  /** A migration commits with its ledger record: a killed or stale runner's migration leaves nothing. */
  transactional: boolean
  /**
   * What the adapter contract ("Fencing, store by store") promises of a stale runner's writes:
   * `migration fenced` (its transaction never commits), `ledger fenced` (its ledger writes are
   * refused, its in-flight migration's own writes are not), `exclusive open` (PGlite: one
   * process at a time opens the directory, so nobody can take over).
   */
  contract: string
  /** The server a TCP proxy can stand in front of, or why no connection can be cut. */
  upstream(): { host: string; port: number } | { unavailable: string }
  /** A fresh namespace; `port` is a proxy's, to reach the server through it. */
  create(dir: string, port?: number): Promise<Namespace>
}

export const env = process.env
export const unique = (label: string) => `${label}_${randomBytes(5).toString('hex')}`
export const literal = (value: unknown) => JSON.stringify(value)

/** `url` with its host and port replaced by the proxy's. */
export function through(url: string, port: number | undefined): string {
  if (port === undefined) return url
  const parsed = new URL(url)
  parsed.hostname = '127.0.0.1'
  parsed.port = String(port)
  return parsed.toString()
}

export function hostOf(url: string | undefined): { host: string; port: number } | { unavailable: string } {
  if (!url) return { unavailable: 'no test server' }
  const parsed = new URL(url)
  return { host: parsed.hostname, port: Number(parsed.port) }
}

/** An adapter of the store, opened by the test itself to look at it: never one a runner uses. */
export async function opened<Client>(
  adapter: Adapter<Client>,
): Promise<{ client: Client; close: () => Promise<void> }> {
  await adapter.open()
  return { client: adapter.client(), close: () => adapter.close() }
}

// the contract's promise, as the table says it (see "Fencing, store by store" in @flux/core's adapter.ts):
// ledger writes fenced, the own writes of a migration in flight when its runner froze not
export const LEDGER_FENCED = 'ledger fenced'

/** How many times each migration was applied, by name. */
export function countByName(effects: readonly Effect[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const effect of effects) counts.set(effect.name, (counts.get(effect.name) ?? 0) + 1)
  return counts
}
