import { createHash } from 'node:crypto'
import type { RedisConnection } from './redis-options.ts'

/** A Lua script and its SHA-1, run with EVALSHA (EVAL once when the server has not cached it). */
export interface Script {
  readonly lua: string
  readonly sha: string
}

const script = (lua: string): Script => ({ lua, sha: createHash('sha1').update(lua).digest('hex') })

// KEYS: ledger, order, lease, epoch, taker. ARGV[1], ARGV[2]: the writer's lease value and epoch, or '' without a lease.
// Another lease in place, or none and an epoch that moved on (taken and released since, or broken), means this
// writer's lease was lost: it records nothing, and learns `{lease value in place or else the latest taker's, epoch}` instead of 1.
// Its own lease expired with nobody coming after it is still the current one.
const CHECK_LEASE = `if ARGV[1] ~= '' then
  local held = redis.call('GET', KEYS[3])
  if held ~= ARGV[1] and (held or redis.call('GET', KEYS[4]) ~= ARGV[2]) then
    return {held or redis.call('GET', KEYS[5]), redis.call('GET', KEYS[4])}
  end
end`

/** Reads `[id, json, …]` in first-recorded order: one script, so one round trip and never a half-written ledger. */
export const READ_LEDGER = script(`local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
local out = {}
for _, id in ipairs(ids) do
  local entry = redis.call('HGET', KEYS[1], id)
  if entry then out[#out + 1] = id; out[#out + 1] = entry end
end
return out`)

/**
 * Changes the ledger: from ARGV[3] on, pairs of an id and its entry's JSON (recorded: inserted at
 * the end of the order, or replaced in its place), or of an id and '' (removed), in order. A
 * script, so the lease check, the hash and the order change as one, for one change or several.
 */
export const WRITE_ENTRIES = script(`${CHECK_LEASE}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], id)
    redis.call('ZREM', KEYS[2], id)
  else
    if not redis.call('ZSCORE', KEYS[2], id) then
      local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
      local place = 1
      if last[2] then place = tonumber(last[2]) + 1 end
      redis.call('ZADD', KEYS[2], place, id)
    end
    redis.call('HSET', KEYS[1], id, ARGV[i + 1])
  end
end
return 1`)

// The lease scripts' KEYS: lease, epoch, taker. Taking the lease and raising the epoch in one script keeps the
// epoch counter equal to the epoch of the lease in place.

/**
 * SET NX PX (ARGV[1] value, ARGV[2] ttl): only one taker wins, and Redis expires an unrenewed lease
 * by itself. A script, so that the winner gets its epoch, and a loser learns the holder, its ttl and
 * epoch, in the same round trip: `{1, epoch}` or `{0, value, pttl, epoch}`.
 */
export const ACQUIRE_LEASE = script(`if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('SET', KEYS[3], ARGV[1])
  return {1, redis.call('INCR', KEYS[2])}
end
return {0, redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]), redis.call('GET', KEYS[2])}`)

/**
 * Replaces a dead holder's lease ARGV[1] by ours (ARGV[2], ttl ARGV[3]) only if unchanged, so two waiters
 * cannot both take it: our epoch, or 0 when it changed.
 */
export const TAKE_OVER_LEASE = script(`if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[3], ARGV[2])
return redis.call('INCR', KEYS[2])`)

/** Deletes whatever lease is in place and raises the epoch, which fences its holder: `{value, its epoch}`, or nil when free. */
export const BREAK_LEASE = script(`local held = redis.call('GET', KEYS[1])
if not held then return false end
local epoch = redis.call('GET', KEYS[2])
redis.call('DEL', KEYS[1], KEYS[3])
redis.call('INCR', KEYS[2])
return {held, epoch}`)

/** Extends the lease by ARGV[2] ms only while it holds our value ARGV[1], so a lost lease is never revived (1 ours, 0 not). */
export const RENEW_LEASE = script(`if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('PEXPIRE', KEYS[1], ARGV[2])`)

/** Deletes the lease only while it holds our value ARGV[1], so a late release never frees a successor's lease. */
export const RELEASE_LEASE = script(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

/** Runs a script by its SHA-1, sending its source only when the server answers NOSCRIPT (first use, restart). */
export async function runScript(
  client: RedisConnection,
  { lua, sha }: Script,
  keys: string[],
  args: (string | number)[],
): Promise<unknown> {
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args)
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
    return client.eval(lua, keys.length, ...keys, ...args)
  }
}
