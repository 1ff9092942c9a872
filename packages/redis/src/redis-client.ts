import type { Cluster, Redis } from 'ioredis'
import { type RedisConnection, type RedisContext, redisError } from './redis-options.ts'

/** Keys asked of each SCAN call (its COUNT hint). */
export const DEFAULT_SCAN_COUNT = 1_000
/** Keys renamed per pipelined batch by `renameKeys`. */
export const DEFAULT_RENAME_BATCH = 1_000

export interface ScanOptions {
  /** COUNT hint of each SCAN call. Default {@link DEFAULT_SCAN_COUNT}. */
  count?: number
}

export interface RenameKeysOptions {
  /** Keys per pipelined batch. Default {@link DEFAULT_RENAME_BATCH}. */
  batch?: number
  /** Stops between batches when aborted (pass `ctx.signal`); what was renamed stays renamed. */
  signal?: AbortSignal
  /** Called after each batch with the number of keys it renamed, e.g. to advance `ctx.progress()`. */
  onBatch?: (renamed: number) => void
}

/**
 * What a migration receives as `ctx.store` for a Redis store: the ioredis client itself as
 * `redis`, untouched (flux adds nothing to your own client), plus helpers for reshaping keys
 * on a standalone server and on a cluster alike. flux's own keys (`{<prefix>}:*`) never show
 * up in `scan` or `renameKeys`.
 *
 * @example
 * ```ts
 * export default defineMigration<RedisClient>({
 *   store: 'cache',
 *   up: ({ store, signal }) => store.renameKeys('session:*', (key) => `sess:v2:${key.slice(8)}`, { signal }),
 *   down: ({ store, signal }) => store.renameKeys('sess:v2:*', (key) => `session:${key.slice(8)}`, { signal }),
 * })
 * ```
 */
export interface RedisClient {
  /** The ioredis `Redis` or `Cluster`: yours when you passed `client`, else the one flux opened. */
  readonly redis: RedisConnection
  /** Whether `redis` is a `Cluster`. */
  readonly isCluster: boolean
  /**
   * A connection to every master: `[redis]` on a standalone server, `cluster.nodes('master')`
   * on a cluster. For per-node commands a cluster does not route, like `FUNCTION LOAD`.
   */
  masters(): Redis[]
  /**
   * Every key matching the glob `pattern`, from every master, with SCAN (never KEYS), each key
   * once. Keys written while it runs may or may not be seen; keys present throughout are.
   * Keys are read as UTF-8 strings.
   */
  scan(pattern: string, options?: ScanOptions): AsyncIterableIterator<string>
  /**
   * Renames every key matching `pattern` to `rename(key)` (skipped when it returns the same key
   * or `undefined`), replacing an existing target, keeping the value and TTL, in pipelined
   * batches. On a cluster a key whose new name is in another slot is copied with DUMP/PTTL +
   * RESTORE and then deleted, since RENAME across slots fails with CROSSSLOT: that copy is not
   * atomic, so run it while the application does not write these keys. Running it again after a
   * crash finishes the job. New names must not be keys that are still to be renamed (a chain
   * `a → b`, `b → c` depends on the scan order). Resolves to the number of keys renamed.
   */
  renameKeys(pattern: string, rename: (key: string) => string | undefined, options?: RenameKeysOptions): Promise<number>
}

export function redisClient(context: RedisContext): RedisClient {
  const redis = context.connection()
  const isCluster = redis.isCluster
  const masters = () => (isCluster ? (redis as Cluster).nodes('master') : [redis as Redis])

  async function* scan(pattern: string, options: ScanOptions = {}): AsyncIterableIterator<string> {
    const count = options.count ?? DEFAULT_SCAN_COUNT
    const seen = new Set<string>()
    for (const node of masters()) {
      let cursor = '0'
      do {
        let keys: string[]
        try {
          ;[cursor, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', count)
        } catch (error) {
          throw redisError(context, `scan keys matching "${pattern}"`, error)
        }
        for (const key of keys) {
          // SCAN may return a key twice (while the keyspace is resized)
          if (seen.has(key) || key.startsWith(context.keys.namespace)) continue
          seen.add(key)
          yield key
        }
      } while (cursor !== '0')
    }
  }

  const renameBatch = async (pairs: [string, string][]): Promise<number> => {
    const sameSlot = isCluster ? pairs.filter(([from, to]) => slotOf(from) === slotOf(to)) : pairs
    const acrossSlots = isCluster ? pairs.filter(([from, to]) => slotOf(from) !== slotOf(to)) : []
    const renamed = await Promise.all(
      sameSlot.map(([from, to]) =>
        redis.rename(from, to).then(
          () => 1,
          (error: Error) => {
            // gone since it was scanned: nothing to rename
            if (/no such key/i.test(error.message)) return 0
            throw error
          },
        ),
      ),
    )
    const dumps = await Promise.all(
      acrossSlots.map(([from]) => Promise.all([redis.dumpBuffer(from), redis.pttl(from)])),
    )
    const present = acrossSlots.flatMap(([from, to], index) => {
      const [dump, ttl] = dumps[index]!
      return dump === null || ttl === -2 ? [] : [{ from, to, dump, ttl: Math.max(ttl, 0) }]
    })
    await Promise.all(present.map(({ to, dump, ttl }) => redis.restore(to, ttl, dump, 'REPLACE')))
    await Promise.all(present.map(({ from }) => redis.unlink(from)))
    return renamed.reduce((sum, count) => sum + count, 0) + present.length
  }

  const renameKeys: RedisClient['renameKeys'] = async (pattern, rename, options = {}) => {
    const size = options.batch ?? DEFAULT_RENAME_BATCH
    // new names may match the pattern too: never rename a key this call produced
    const produced = new Set<string>()
    let total = 0
    let batch: [string, string][] = []
    const flush = async () => {
      options.signal?.throwIfAborted()
      let renamed: number
      try {
        renamed = await renameBatch(batch)
      } catch (error) {
        throw redisError(context, `rename keys matching "${pattern}"`, error)
      }
      batch = []
      total += renamed
      options.onBatch?.(renamed)
    }
    for await (const key of scan(pattern, { count: size })) {
      if (produced.has(key)) continue
      const target = rename(key)
      if (target === undefined || target === key) continue
      produced.add(target)
      batch.push([key, target])
      if (batch.length >= size) await flush()
    }
    if (batch.length > 0) await flush()
    return total
  }

  return Object.freeze({ redis, isCluster, masters, scan, renameKeys })
}

// CRC16-XMODEM, the hash of Redis Cluster's key slots
const CRC16 = Array.from({ length: 256 }, (_, byte) => {
  let crc = byte << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1
  return crc & 0xffff
})

/** The cluster slot of a key: CRC16 of its hash tag (the first non-empty `{…}`) or of the whole key, mod 16384. */
export function slotOf(key: string): number {
  const open = key.indexOf('{')
  const close = open === -1 ? -1 : key.indexOf('}', open + 1)
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key
  let crc = 0
  for (const byte of Buffer.from(hashed)) crc = ((crc << 8) & 0xffff) ^ CRC16[((crc >> 8) ^ byte) & 0xff]!
  return crc & 16383
}
