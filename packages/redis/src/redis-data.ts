import { createHash } from 'node:crypto'
import type { DataKey, DataSource, DataTarget } from '@flux/core'
import type { Redis } from 'ioredis'
import type { RedisClient } from './redis-client.ts'

/** The value types {@link redisKeys} reads and writes. */
export type RedisValueType = 'string' | 'hash' | 'set' | 'zset' | 'list'

/**
 * One key with its value, as {@link redisKeys} reads and writes it. Values are read as UTF-8
 * strings; numbers written are stored as their decimal text, as Redis does.
 */
export type RedisEntry = {
  key: string
  /** Milliseconds it has left to live; absent when it does not expire. */
  ttl?: number
} & (
  | { type: 'string'; value: string | number }
  | { type: 'hash'; value: Record<string, string | number> }
  | { type: 'set'; value: (string | number)[] }
  | { type: 'zset'; value: { member: string | number; score: number }[] }
  | { type: 'list'; value: (string | number)[] }
)

export interface RedisKeysOptions {
  /** Only the keys matching this glob (SCAN's `MATCH`, as a source). Default `'*'`: all but flux's own. */
  match?: string
  /** Only the keys of this type (SCAN's `TYPE`, as a source). Default: every type above. */
  type?: RedisValueType
  /**
   * What `verifyCopy` compares for a key: the key of the row it was copied from or to, when
   * that is not the Redis key itself (`(key) => Number(key.slice('review:'.length))` for keys
   * made from a table's ids). Default: the key.
   */
  idOf?: (key: string) => DataKey
}

/** Where a copy from {@link redisKeys} goes on: each master's SCAN cursor, and the servers it holds for. */
interface ScanPosition {
  /** Index of the master, in the order of their addresses, and its SCAN cursor there ('0': from its start). */
  node: number
  cursor: string
  /** A digest of each master's address and `run_id`: a restarted or replaced server hashes keys anew. */
  servers: string
}

/**
 * The keys of a Redis store (its client, `ctx.store` or `ctx.stores.<name>`) as a source and a
 * target for `copy` and `verifyCopy` from `@flux/core`, on a server or a cluster.
 *
 * As a source: SCAN on each master (`MATCH`, `TYPE`, a COUNT of the batch size), each batch's
 * values and TTLs read in one pipeline to that master. SCAN has no key order: a checkpoint holds
 * the SCAN cursor where the next batch starts (with the master it is on), and a resumed copy goes
 * on from there without reading earlier batches again. SCAN returns every key that exists from
 * the start of the copy to its end; one may come twice (written twice, harmlessly). A cursor only
 * means something to the server that gave it: when a master restarted or the cluster's masters
 * changed since the checkpoint (their `run_id`s say so), the copy starts over from the first key,
 * which the idempotent writes allow. A batch may hold more keys than the batch size, by what one
 * SCAN call returns beyond its COUNT. Keys and values are read as UTF-8 strings.
 *
 * As a target: a pipeline (no MULTI) per batch that replaces each key whole: `SET` a string,
 * `DEL` then `HSET`/`SADD`/`ZADD`/`RPUSH` the others, then `PEXPIRE` where there is a `ttl`; a
 * batch written twice leaves the same keys and values (a reader may see a collection empty for a
 * moment while it is rewritten).
 *
 * @example
 * ```ts
 * await copy({
 *   from: pgRows(ctx.stores.main, { table: 'hotel' }),
 *   to: redisKeys(ctx.store),
 *   transform: (row): RedisEntry => ({ key: `hotel:${row.id}`, type: 'hash', value: { name: row.name, city: row.city } }),
 *   context: ctx,
 * })
 * ```
 */
export function redisKeys(
  store: RedisClient,
  options: RedisKeysOptions = {},
): DataSource<RedisEntry> & DataTarget<RedisEntry> {
  const match = options.match ?? '*'
  const idOf = options.idOf ?? ((key: string) => key)
  const positions = new WeakMap<RedisEntry, ScanPosition>()
  const describe = () => `redis keys ${match}${options.type ? ` of type ${options.type}` : ''}`

  /** Batches of keys, each ending at a SCAN cursor, from `start` on. */
  async function* scanBatches(start: DataKey | undefined, batchSize: number) {
    const masters = [...store.masters()].sort((a, b) => addressOf(a).localeCompare(addressOf(b)))
    const servers = await serversDigest(masters)
    const from = positionOf(start, servers) ?? { node: 0, cursor: '0', servers }
    for (let node = from.node; node < masters.length; node++) {
      const master = masters[node]!
      let cursor = node === from.node ? from.cursor : '0'
      let keys: string[] = []
      do {
        const page = options.type
          ? await master.scan(cursor, 'MATCH', match, 'COUNT', batchSize, 'TYPE', options.type)
          : await master.scan(cursor, 'MATCH', match, 'COUNT', batchSize)
        cursor = page[0]
        for (const key of page[1]) if (!isFluxKey(key)) keys.push(key)
        if (keys.length >= batchSize || cursor === '0') {
          const next: ScanPosition =
            cursor === '0' ? { node: node + 1, cursor: '0', servers } : { node, cursor, servers }
          yield { master, keys, next }
          keys = []
        }
      } while (cursor !== '0')
    }
  }

  return {
    async *read(after, batchSize) {
      for await (const { master, keys, next } of scanBatches(after, batchSize)) {
        const entries = await readValues(master, keys, options.type)
        for (const entry of entries) positions.set(entry, next)
        if (entries.length > 0) yield entries
      }
    },
    keyOf(entry) {
      const position = positions.get(entry)
      if (!position) throw new TypeError(`redisKeys: ${entry.key} was not read by this source, it has no SCAN position`)
      return { ...position }
    },
    async *keys(batchSize) {
      for await (const { keys } of scanBatches(undefined, batchSize)) if (keys.length > 0) yield keys.map(idOf)
    },
    async write(entries) {
      if (entries.length === 0) return
      const phases = entries.map(commandsOf)
      if (store.isCluster) {
        // a cluster routes each command to its key's master, but a command redirected while the
        // client learns the slots can overtake the next one: each phase waits for the one before
        const redis = store.redis as unknown as Redis
        for (const phase of [0, 1, 2])
          await Promise.all(
            phases.flatMap((commands) => commands[phase]!.map(([name, ...args]) => redis.call(name, ...args))),
          )
        return
      }
      const pipeline = (store.redis as Redis).pipeline()
      for (const commands of phases) for (const [name, ...args] of commands.flat()) pipeline.call(name, ...args)
      const results = (await pipeline.exec()) ?? []
      const failed = results.find(([error]) => error)
      if (failed) throw failed[0]
    },
    describe,
  }
}

/** A command's name and arguments. */
type Command = [name: string, ...args: (string | number)[]]

/**
 * The commands that make `entry.key` hold exactly `entry`, whatever it held before, in three
 * phases run in order: `SET` or `DEL`; the collection's members; `PEXPIRE`.
 */
function commandsOf(entry: RedisEntry): [Command[], Command[], Command[]] {
  const { key } = entry
  const expire: Command[] = entry.ttl !== undefined && entry.ttl > 0 ? [['PEXPIRE', key, Math.ceil(entry.ttl)]] : []
  if (entry.type === 'string') return [[['SET', key, entry.value]], [], expire]
  const members: (string | number)[] =
    entry.type === 'hash'
      ? Object.entries(entry.value).flat()
      : entry.type === 'zset'
        ? entry.value.flatMap(({ member, score }) => [score, member])
        : entry.type === 'set' || entry.type === 'list'
          ? entry.value
          : invalidType(entry)
  // an empty collection is no key in Redis: nothing to add or expire
  if (members.length === 0) return [[['DEL', key]], [], []]
  return [[['DEL', key]], [[ADD[entry.type], key, ...members]], expire]
}

const ADD = { hash: 'HSET', set: 'SADD', zset: 'ZADD', list: 'RPUSH' } as const

function invalidType(entry: never): never {
  const { key, type } = entry as { key: string; type: unknown }
  throw new TypeError(`redisKeys: ${key} has type ${String(type)}, not one of string, hash, set, zset, list`)
}

/** Each key's type (unless known), value and TTL, in two pipelines (one when the type is known); keys gone meanwhile are left out. */
async function readValues(master: Redis, keys: string[], known: RedisValueType | undefined): Promise<RedisEntry[]> {
  if (keys.length === 0) return []
  const types = known
    ? keys.map(() => known)
    : ((await exec(
        master,
        keys.map((key): Command => ['TYPE', key]),
      )) as string[])
  const reads = keys.flatMap((key, index): Command[] => [readCommand(key, types[index]!), ['PTTL', key]])
  const results = await exec(master, reads)
  const entries: RedisEntry[] = []
  keys.forEach((key, index) => {
    const type = types[index] as RedisValueType
    const raw = results[index * 2]
    const ttl = results[index * 2 + 1] as number
    // gone since it was scanned (PTTL -2), or a type this source does not read (a stream)
    if (ttl === -2 || raw === null || !READ_COMMANDS[type]) return
    const base = ttl >= 0 ? { key, ttl } : { key }
    if (type === 'string') entries.push({ ...base, type, value: raw as string })
    else if (type === 'hash') entries.push({ ...base, type, value: fieldsOf(raw) })
    else if (type === 'zset') entries.push({ ...base, type, value: scoredMembers(raw) })
    else entries.push({ ...base, type, value: raw as string[] })
  })
  return entries
}

const READ_COMMANDS: Record<RedisValueType, string[]> = {
  string: ['GET'],
  hash: ['HGETALL'],
  set: ['SMEMBERS'],
  zset: ['ZRANGE', '0', '-1', 'WITHSCORES'],
  list: ['LRANGE', '0', '-1'],
}

function readCommand(key: string, type: string): Command {
  const command = READ_COMMANDS[type as RedisValueType]
  // 'none' (gone) or a type not read: a cheap command whose answer is left out
  if (!command) return ['EXISTS', key]
  const [name, ...rest] = command
  return [name!, key, ...rest]
}

/** Runs `commands` in one pipeline on `master`; the first error is thrown. */
async function exec(master: Redis, commands: Command[]): Promise<unknown[]> {
  const pipeline = master.pipeline()
  for (const [name, ...args] of commands) pipeline.call(name, ...args)
  const results = (await pipeline.exec()) ?? []
  const failed = results.find(([error]) => error)
  if (failed) throw failed[0]
  return results.map(([, value]) => value)
}

/** HGETALL's answer: a flat field, value list (RESP2), or a map (RESP3). */
function fieldsOf(raw: unknown): Record<string, string> {
  if (!Array.isArray(raw)) return { ...(raw as Record<string, string>) }
  const fields: Record<string, string> = {}
  for (let index = 0; index < raw.length; index += 2) fields[raw[index]] = raw[index + 1]
  return fields
}

/** ZRANGE … WITHSCORES's answer: a flat member, score list (RESP2), or member, score pairs (RESP3). */
function scoredMembers(raw: unknown): { member: string; score: number }[] {
  const list = raw as unknown[]
  const pairs = Array.isArray(list[0])
    ? (list as [string, string | number][])
    : Array.from({ length: list.length / 2 }, (_, index) => [list[index * 2], list[index * 2 + 1]] as [string, string])
  return pairs.map(([member, score]) => ({ member, score: Number(score) }))
}

/** flux's own keys, `{<prefix>}:ledger` and the like (see `RedisStoreOptions.prefix`): never copied. */
const isFluxKey = (key: string) => /^\{[^{}\s]+\}:(?:ledger|order|lease|epoch|taker)$/.test(key)

const addressOf = (node: Redis) => `${node.options.host}:${node.options.port}`

/** Each master's address and `run_id` (which changes when the server restarts), hashed. */
async function serversDigest(masters: Redis[]): Promise<string> {
  const ids = await Promise.all(
    masters.map(async (node) => {
      const info = await node.info('server')
      return `${addressOf(node)}/${/run_id:(\w+)/.exec(info)?.[1] ?? ''}`
    }),
  )
  return createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 16)
}

/** The checkpoint's position when it is one for these servers; otherwise the copy starts over. */
function positionOf(key: DataKey | undefined, servers: string): ScanPosition | undefined {
  if (typeof key !== 'object' || key === null || Array.isArray(key)) return undefined
  const { node, cursor, servers: digest } = key as Partial<Record<keyof ScanPosition, unknown>>
  if (digest !== servers || typeof node !== 'number' || typeof cursor !== 'string') return undefined
  return { node, cursor, servers }
}
