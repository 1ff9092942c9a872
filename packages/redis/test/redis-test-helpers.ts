import { randomBytes } from 'node:crypto'
import { type ConformanceOptions, describeWithServer as describeServer } from '@flux/core/testing'
import { Cluster, Redis } from 'ioredis'
import { afterAll } from 'vitest'
import { type RedisConnection, type RedisStoreOptions, redisStore } from '../src/index.ts'

/** A password that must never show up anywhere (the unreachable targets are given it). */
export const PASSWORD = 'flux-redis-test-password'

const MISSING = 'start the test servers with `scripts/services start`, then run `eval "$(scripts/services env)"`'

/** One of the shared test servers: the standalone server or the three-master cluster. */
export interface Target {
  name: 'standalone' | 'cluster'
  /** Options of a store over this server, with its own prefix. */
  options(prefix: string): RedisStoreOptions
  /** Source of the same options in a test project's flux.config.ts, reading the environment. */
  configSource(prefix: string): string
  /** A connection for the tests' own commands, shared by the file and closed after it. */
  admin(): RedisConnection
  /** A store on a closed port, given a username and the password. */
  unreachable: RedisStoreOptions
}

const url = process.env.FLUX_TEST_REDIS_URL
const clusterNodes = process.env.FLUX_TEST_REDIS_CLUSTER?.split(',').filter(Boolean)

function sharedAdmin(create: () => RedisConnection): () => RedisConnection {
  let connection: RedisConnection | undefined
  return () => {
    if (!connection) {
      const created = create()
      connection = created
      afterAll(() => created.quit())
    }
    return connection
  }
}

export const STANDALONE: Target = {
  name: 'standalone',
  options: (prefix) => ({ url: url!, prefix }),
  configSource: (prefix) => `redisStore({ url: process.env.FLUX_TEST_REDIS_URL, prefix: ${JSON.stringify(prefix)} })`,
  admin: sharedAdmin(() => new Redis(url!)),
  unreachable: { url: `redis://flux-user:${PASSWORD}@127.0.0.1:1/0` },
}

export const CLUSTER: Target = {
  name: 'cluster',
  options: (prefix) => ({ cluster: { nodes: clusterNodes! }, prefix }),
  configSource: (prefix) =>
    `redisStore({ cluster: { nodes: process.env.FLUX_TEST_REDIS_CLUSTER.split(',') }, prefix: ${JSON.stringify(prefix)} })`,
  admin: sharedAdmin(() => new Cluster(clusterNodes!)),
  unreachable: {
    cluster: {
      nodes: ['127.0.0.1:1', { host: '127.0.0.1', port: 2 }],
      options: { redisOptions: { password: PASSWORD } },
    },
  },
}

export const TARGETS = [STANDALONE, CLUSTER]

/** A describe() for tests that need a shared server: failing under CI without its variable, skipped elsewhere. */
export function describeWith(target: Target, name: string, fn: (target: Target) => void): void {
  const variable = target.name === 'standalone' ? 'FLUX_TEST_REDIS_URL' : 'FLUX_TEST_REDIS_CLUSTER'
  describeServer(variable, `${name} (redis ${target.name})`, () => fn(target), MISSING)
}

/** A random prefix (or key namespace), so that tests never share keys with each other or with other users of the servers. */
export function randomName(label = 'test'): string {
  return `flux-${label}-${randomBytes(5).toString('hex')}`
}

/** Every master's connection: the client itself, or each master of a cluster (once it knows them all). */
export async function mastersOf(connection: RedisConnection): Promise<Redis[]> {
  // a cluster client lists its nodes only once it is ready; a command waits for that
  await connection.ping()
  return connection.isCluster ? (connection as Cluster).nodes('master') : [connection as Redis]
}

/** Every key matching `pattern` on every master, sorted. */
export async function keysMatching(connection: RedisConnection, pattern: string): Promise<string[]> {
  const keys: string[] = []
  for (const node of await mastersOf(connection)) {
    let cursor = '0'
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      keys.push(...found)
    } while (cursor !== '0')
  }
  return [...new Set(keys)].sort()
}

/** Deletes every key matching `pattern` on every master. */
export async function deleteMatching(connection: RedisConnection, pattern: string): Promise<void> {
  for (const node of await mastersOf(connection)) {
    let cursor = '0'
    do {
      const [next, found] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      // one key per command: a multi-key UNLINK fails with CROSSSLOT on a cluster node
      if (found.length > 0) await found.reduce((pipeline, key) => pipeline.unlink(key), node.pipeline()).exec()
    } while (cursor !== '0')
  }
}

/** A glob matching exactly the keys that start with `prefix` (escaping glob characters). */
export function globOf(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, (character) => `\\${character}`)}*`
}

/** Conformance options over a target: a fresh prefix per test, whose keys are deleted on every master after it. */
export function conformanceOptions(target: Target): ConformanceOptions {
  return {
    async setup() {
      const prefix = randomName('conformance')
      const own = globOf(`{${prefix}}`)
      return {
        create: () => redisStore(target.options(prefix)),
        cleanup: () => deleteMatching(target.admin(), own),
        contents: () => keysMatching(target.admin(), own),
      }
    },
    secrets: [PASSWORD],
    unreachable: () => redisStore(target.unreachable),
  }
}
