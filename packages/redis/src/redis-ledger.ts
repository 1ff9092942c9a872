import {
  describeChanges,
  FluxError,
  type Ledger,
  type LedgerChange,
  type LedgerEntry,
  leaseTakenOver,
} from '@flux/core'
import { holderOf } from './redis-lease.ts'
import { type RedisContext, redisError } from './redis-options.ts'
import { READ_LEDGER, runScript, WRITE_ENTRIES } from './redis-scripts.ts'

/**
 * The ledger as a hash of JSON entries plus a sorted set for their order, both under the
 * store's hash tag. Every call is one script: one round trip, atomic on a cluster too, and a
 * write (of one change or several) checks the lease in the same script (see `heldLease`).
 */
export function redisLedger(context: RedisContext): Ledger {
  const { keys } = context
  const write = async (action: string, changes: readonly LedgerChange[]) => {
    const args = changes.flatMap((change) =>
      'record' in change ? [change.record.id, JSON.stringify(change.record)] : [change.remove, ''],
    )
    const held = context.heldLease
    let reply: unknown
    try {
      reply = await runScript(
        context.connection(),
        WRITE_ENTRIES,
        [keys.ledger, keys.order, keys.lease, keys.epoch, keys.taker],
        [held?.value ?? '', held ? String(held.epoch) : '', ...args],
      )
    } catch (error) {
      throw redisError(context, action, error)
    }
    // refused: the lease in place now, or else the latest taker's (none after a break), and the epoch
    if (Array.isArray(reply)) {
      const [current, epoch] = reply as [string | null, string | null]
      throw leaseTakenOver(context.description, action, current === null ? undefined : holderOf(current, null, epoch))
    }
  }

  return {
    async read() {
      let reply: unknown
      try {
        reply = await runScript(context.connection(), READ_LEDGER, [keys.ledger, keys.order], [])
      } catch (error) {
        throw redisError(context, 'read the ledger', error)
      }
      const flat = reply as string[]
      const entries: LedgerEntry[] = []
      for (let index = 0; index < flat.length; index += 2)
        entries.push(parseEntry(context, flat[index]!, flat[index + 1]!))
      return entries
    },
    record: (entry) => write(`record ${entry.id} in the ledger`, [{ record: entry }]),
    remove: (id) => write(`remove ${id} from the ledger`, [{ remove: id }]),
    write: (changes) => write(`${describeChanges(changes)} in the ledger`, changes),
  }
}

function parseEntry(context: RedisContext, id: string, json: string): LedgerEntry {
  let entry: unknown
  try {
    entry = JSON.parse(json)
  } catch {}
  const record = entry as Record<string, unknown> | undefined
  const valid =
    typeof record === 'object' &&
    record !== null &&
    record.id === id &&
    (record.status === 'applied' || record.status === 'running') &&
    ['checksum', 'appliedAt', 'runId', 'fluxVersion'].every((field) => typeof record[field] === 'string') &&
    typeof record.durationMs === 'number'
  if (!valid) {
    throw new FluxError(
      'STORE_ERROR',
      `the ledger ${context.keys.ledger} of ${context.description} is malformed: its entry for "${id}" is not a flux ledger entry`,
      { hint: 'flux writes these keys itself and they must not be edited by hand: restore them from a backup' },
    )
  }
  return entry as LedgerEntry
}
