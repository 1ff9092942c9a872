import { FluxError, messageOf } from '@flux/core'
import type { Cluster, ClusterOptions, Redis } from 'ioredis'

/** Default key prefix: flux's keys are `{flux}:ledger`, `{flux}:order`, `{flux}:lease`, `{flux}:epoch` and `{flux}:taker`. */
export const DEFAULT_PREFIX = 'flux'
/** How long `open()` waits for a connection (and each reconnection) before giving up, in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000

/** An ioredis client: a standalone `Redis` or a `Cluster`. */
export type RedisConnection = Redis | Cluster

/** A Redis Cluster for flux to connect to (and disconnect from). */
export interface RedisClusterOptions {
  /** Startup nodes: `'127.0.0.1:7000'` or `{ host, port }`; ioredis discovers the others. */
  nodes: (string | { host: string; port: number })[]
  /** ioredis `ClusterOptions`, e.g. `{ redisOptions: { password } }`; merged over flux's fail-fast defaults. */
  options?: ClusterOptions
}

/** Exactly one of `url`, `client` or `cluster`, and optionally a `prefix`. */
export interface RedisStoreOptions {
  /**
   * `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). flux creates the client in
   * `open()` and quits it in `close()`. Take it from the environment: `process.env.REDIS_URL`.
   */
  url?: string | undefined
  /** Your own ioredis `Redis` or `Cluster`; flux uses it as it is and never closes it. */
  client?: RedisConnection | undefined
  /** A Redis Cluster flux connects to itself, with an ioredis `Cluster`. */
  cluster?: RedisClusterOptions | undefined
  /**
   * Name inside the hash tag of flux's keys: `{<prefix>}:ledger`, `{<prefix>}:order`,
   * `{<prefix>}:lease`, `{<prefix>}:epoch`. One hash tag keeps them in one cluster slot, so every
   * ledger write is one atomic script, lease check included. Two applications sharing a server need two prefixes.
   * Default {@link DEFAULT_PREFIX}.
   */
  prefix?: string
}

/** flux's own keys, all under the hash tag `{<prefix>}`. */
export interface RedisKeys {
  /** Hash: migration id → JSON ledger entry. */
  readonly ledger: string
  /** Sorted set: migration id scored by when it was first recorded, for the ledger's order. */
  readonly order: string
  /** String: JSON `{ token, holder, ttlMs }` of the lease holder, with a PX expiry. */
  readonly lease: string
  /**
   * String: the fencing epoch, a counter raised by every acquisition, take-over and break of the
   * lease (never expires). While the lease key exists, it is that lease's epoch.
   */
  readonly epoch: string
  /**
   * String: the lease value of the latest acquisition or take-over (no expiry; deleted by a break),
   * so a runner refused after its taker has released can still be told who took over.
   */
  readonly taker: string
  /** `{<prefix>}:`, which every one of them starts with. */
  readonly namespace: string
}

/** What the ledger, the lease and the client share about one adapter instance. */
export interface RedisContext {
  readonly keys: RedisKeys
  /** `redis 127.0.0.1:6379`, without secrets, for messages. */
  readonly description: string
  /** Strings to scrub from any driver message (password, username). */
  readonly secrets: readonly string[]
  /** The connected client; throws when the store is not open. */
  connection(): RedisConnection
  /**
   * The lease this instance holds, from its acquisition to its own release: its value and epoch.
   * Ledger writes are refused once another lease is in place, or none is and the epoch moved on
   * (the lease was taken and released by another, or broken). `undefined`: writes are unconditional.
   */
  heldLease: { value: string; epoch: number } | undefined
  /** Last connection error of a client flux created: why commands fail while it reconnects. */
  lastError?: unknown
}

export function keysOf(prefix: string | undefined): RedisKeys {
  const name = prefix ?? DEFAULT_PREFIX
  if (typeof name !== 'string' || !/^[^{}\s]{1,100}$/.test(name)) {
    throw new FluxError('CONFIG_INVALID', `redisStore() got an invalid prefix ${JSON.stringify(name)}`, {
      hint: `a prefix is 1-100 characters without braces or spaces, like "${DEFAULT_PREFIX}" or "app-cache"`,
    })
  }
  const namespace = `{${name}}:`
  return {
    ledger: `${namespace}ledger`,
    order: `${namespace}order`,
    lease: `${namespace}lease`,
    epoch: `${namespace}epoch`,
    taker: `${namespace}taker`,
    namespace,
  }
}

type Node = string | number | { host?: string; port?: number }

const nodeName = (node: Node) =>
  typeof node === 'object' ? `${node.host ?? '127.0.0.1'}:${node.port ?? 6379}` : String(node).replace(/^.*@/, '')

/** The target of the options without secrets (`redis 127.0.0.1:6379/2`, `redis cluster a:1,b:2`), and those secrets. */
export function describeTarget(options: RedisStoreOptions): { description: string; secrets: string[] } {
  const given = ['url', 'client', 'cluster'].filter((key) => options?.[key as keyof RedisStoreOptions] !== undefined)
  if (given.length !== 1) {
    throw new FluxError(
      'CONFIG_INVALID',
      `redisStore() needs exactly one of url, client or cluster (got ${given.length})`,
      {
        hint: "pass redisStore({ url: process.env.REDIS_URL }), redisStore({ client }) or redisStore({ cluster: { nodes: ['host:port'] } })",
        // core names the store, and the unset variable behind a missing option
        details: given.length === 0 ? { missing: ['url', 'client', 'cluster'] } : undefined,
      },
    )
  }
  if (options.url === '') {
    throw new FluxError('CONFIG_INVALID', 'redisStore() got an empty url', {
      hint: 'is the environment variable that holds the URL set?',
      details: { missing: ['url'] },
    })
  }
  if (options.url !== undefined) return describeUrl(options.url)
  if (options.cluster !== undefined) {
    const { nodes, options: clusterOptions } = options.cluster
    if (!Array.isArray(nodes) || nodes.length === 0) {
      throw new FluxError('CONFIG_INVALID', 'redisStore() got a cluster without nodes', {
        hint: "list at least one startup node: redisStore({ cluster: { nodes: ['127.0.0.1:7000'] } })",
      })
    }
    const redisOptions = clusterOptions?.redisOptions
    return {
      description: `redis cluster ${nodes.map(nodeName).join(',')}`,
      secrets: secretsOf([redisOptions?.password, ...nodes.map(credentialsIn)], [redisOptions?.username]),
    }
  }
  const client = options.client as RedisConnection & { startupNodes?: Node[] }
  if (client.isCluster) {
    const redisOptions = (client as unknown as Cluster).options?.redisOptions
    return {
      description: `redis cluster ${(client.startupNodes ?? []).map(nodeName).join(',') || 'client'}`,
      secrets: secretsOf([redisOptions?.password], [redisOptions?.username]),
    }
  }
  const { host, port, path, db, password, username } = (client as Redis).options ?? {}
  const where = path ?? `${host ?? '127.0.0.1'}:${port ?? 6379}`
  return { description: `redis ${where}${db ? `/${db}` : ''}`, secrets: secretsOf([password], [username]) }
}

function describeUrl(url: string): { description: string; secrets: string[] } {
  let parsed: URL | undefined
  try {
    parsed = new URL(url)
  } catch {}
  if (!parsed || !['redis:', 'rediss:'].includes(parsed.protocol) || parsed.hostname === '') {
    // the URL itself is never shown: it may hold a password
    throw new FluxError(
      'CONFIG_INVALID',
      'redisStore() got a url that is not a redis:// or rediss:// URL with a host',
      {
        hint: 'write it as redis://[user:password@]host:port[/db], and check the variable it comes from',
      },
    )
  }
  const db = parsed.pathname.replace(/^\//, '')
  const tls = parsed.protocol === 'rediss:' ? ' (tls)' : ''
  return {
    description: `redis ${parsed.hostname}:${parsed.port || 6379}${db ? `/${db}` : ''}${tls}`,
    secrets: secretsOf([parsed.password, url], [parsed.username]),
  }
}

/** The password in a node written as a URL (`redis://:password@host:port`). */
function credentialsIn(node: Node): string | undefined {
  if (typeof node !== 'string' || !node.includes('@')) return undefined
  try {
    return new URL(node.includes('://') ? node : `redis://${node}`).password || undefined
  } catch {
    return node.replace(/@.*$/, '')
  }
}

/** Passwords and URLs to scrub, and usernames but for very short ones: scrubbing "app" would mangle every message. */
function secretsOf(passwords: (string | undefined)[], usernames: (string | undefined)[] = []): string[] {
  const secrets = new Set<string>()
  for (const value of [...passwords, ...usernames.filter((username) => (username?.length ?? 0) >= 4)]) {
    if (!value) continue
    secrets.add(value)
    try {
      secrets.add(decodeURIComponent(value))
    } catch {}
  }
  // longest first, so that a password is scrubbed before a username inside it
  return [...secrets].sort((a, b) => b.length - a.length)
}

/** `text` with every secret replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let scrubbed = text
  for (const secret of secrets) scrubbed = scrubbed.split(secret).join('***')
  return scrubbed
}

/** Driver messages that mean the server (or cluster) cannot serve us now; case-sensitive, as ioredis and Redis write them. */
const UNREACHABLE =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE|Connection is closed|max retries per request|Stream isn't writeable|None of startup nodes|Failed to refresh slots|Cluster isn't ready|CLUSTERDOWN|LOADING|MASTERDOWN|TRYAGAIN/

/**
 * A driver error as a `FluxError` naming the target, with secrets scrubbed (the cause is a
 * scrubbed copy too). A `FluxError` passes through unchanged.
 */
export function redisError(
  context: Pick<RedisContext, 'description' | 'secrets' | 'lastError'>,
  action: string,
  error: unknown,
) {
  if (FluxError.is(error)) return error
  // "max retries per request", "Connection is closed": the connection error says why
  const generic = /Connection is closed|max retries per request/i.test(messageOf(error))
  const message = scrub(messageOf(generic && context.lastError ? context.lastError : error), context.secrets)
  const cause = Object.assign(new Error(message), { name: (error as Error)?.name ?? 'Error' })
  const target = context.description
  if (/^(WRONGPASS|NOAUTH)|invalid password|AUTH .* called without/i.test(message)) {
    return new FluxError('STORE_UNAVAILABLE', `${target}: cannot ${action}: authentication failed (${message})`, {
      hint: 'check the username and password of the store in the environment (they are never shown)',
      cause,
    })
  }
  if (/^READONLY/.test(message)) {
    return new FluxError('STORE_ERROR', `${target}: cannot ${action}: it is a read-only replica (${message})`, {
      hint: 'point the store at the primary (or let a Cluster client route writes to the masters)',
      cause,
    })
  }
  if (UNREACHABLE.test(message)) {
    return new FluxError('STORE_UNAVAILABLE', `${target}: cannot ${action}: it is unreachable (${message})`, {
      hint: `check that ${target} is running and reachable from here${target.startsWith('redis cluster') ? ', and that `redis-cli cluster info` says cluster_state:ok' : ''}, then run the command again`,
      cause,
    })
  }
  return new FluxError('STORE_ERROR', `${target}: cannot ${action}: ${message}`, { cause })
}
