import { randomUUID } from 'node:crypto'
import { type AcquireOptions, createLease, isHolderGone, type Lease, type LeaseHolder, pollForLease } from '@flux/core'
import type { Driver, Queryable } from './pg-client.ts'
import { type Fence, LEASE_ROW } from './pg-fence.ts'
import { ensureTable, isMissingColumn, isMissingTable } from './pg-ledger.ts'
import type { PgSettings } from './pg-options.ts'

/** The lease operations of one adapter, in either lock mode. */
export interface PgLease {
  acquire(options: AcquireOptions): Promise<Lease>
  inspect(): Promise<LeaseHolder | undefined>
  breakLease(): Promise<LeaseHolder | undefined>
  /**
   * Starts connecting what `acquire()` will need (the advisory lease's session), so that a
   * run does not wait for it after planning. Does not take the lease.
   */
  warm?(): void
  /** Ends what leases still hold (their sessions), for the adapter's close(). */
  close(): Promise<void>
}

/** `now() + $n milliseconds`, in SQL. */
export const expiresIn = (parameter: number) => `now() + $${parameter}::float8 * interval '1 millisecond'`

/**
 * The lease row's expiry once released or broken. The row stays, so its epoch keeps counting,
 * and its token is no one's current one any more.
 */
export const RELEASED = `'-infinity'`

/**
 * In an upsert that takes the lease row: setting its key column makes `ON CONFLICT DO UPDATE`
 * lock the row `FOR UPDATE` rather than `FOR NO KEY UPDATE`, so a take-over waits for the
 * transactions that passed a fence check (`FOR KEY SHARE`, see `fenceCheck`) to commit.
 * Renewals, plain updates, do not wait for them.
 */
export const LOCKS_LEASE_ROW = 'name = excluded.name'

/**
 * Columns giving the holder back as JSON text, with its expiry as ISO-8601, and its epoch (read
 * through `to_jsonb`: a lock table made by an older version has none until a lease is taken).
 */
export const HOLDER_COLUMNS = `r.token, r.holder::text as holder, r.expires_at <= now() as expired,
  to_char(r.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as expires_at,
  to_jsonb(r) ->> 'epoch' as epoch`

export interface HolderRow {
  token: string | null
  holder: string | null
  expired: boolean | null
  expires_at: string | null
  epoch: string | null
}

export function holderOf(row: HolderRow | undefined): LeaseHolder | undefined {
  if (!row?.holder) return undefined
  const holder = JSON.parse(row.holder) as LeaseHolder
  // a broken lease's row keeps no holder
  if (typeof holder.host !== 'string') return undefined
  return {
    ...holder,
    ...(row.expires_at ? { expiresAt: row.expires_at } : {}),
    ...(row.epoch ? { epoch: Number(row.epoch) } : {}),
  }
}

/**
 * Frees the lease row that matches `where` (a condition on `r`; `$1` is a new token, which no
 * one holds, and the holder is cleared), and returns its holder. It waits, like a take-over, for the transactions that
 * passed a fence check: after it, the old token's writes are refused.
 */
export function breakRow(settings: PgSettings, where: string): string {
  const lock = settings.lockTable
  return `with old as (
  select ${HOLDER_COLUMNS} from ${lock} r
  where r.name = '${LEASE_ROW}' and r.expires_at > ${RELEASED} and ${where} for update)
update ${lock} r set token = $1, expires_at = ${RELEASED}, backend_pid = null, holder = '{}' from old
where r.name = '${LEASE_ROW}' returning old.*`
}

/**
 * Runs `call`, and if the lock table is missing (first lease of this store) or was made by an
 * older version (no `epoch`), creates or completes it and runs it again.
 */
export async function withLockTable<T>(queryable: Queryable, settings: PgSettings, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (!isMissingTable(error) && !isMissingColumn(error)) throw error
    await ensureTable(queryable, settings, 'lock')
    return call()
  }
}

/**
 * Whether `token` is still the lease's current one, read anew (after a write failed for
 * another reason: a lost connection); if not, who took it (see `fenceCheck`).
 */
export async function leaseNow(
  queryable: Queryable,
  settings: PgSettings,
  token: string,
): Promise<{ current: true } | { current: false; holder: LeaseHolder | undefined }> {
  const { rows } = await queryable.query<HolderRow & { current: boolean | null }>(
    `select r.token = $1 as current, ${HOLDER_COLUMNS}
from (select 1) as one left join ${settings.lockTable} as r on r.name = '${LEASE_ROW}'`,
    [token],
  )
  const row = rows[0]
  if (row?.current) return { current: true }
  // its latest holder, as a fence check names it
  return { current: false, holder: holderOf(row) }
}

/** After a release: the fence is cleared if the lease was still current (else its writes stay refused). */
export function released(fence: Fence, token: string, wasCurrent: boolean): void {
  if (wasCurrent && fence.held === token) fence.held = undefined
}

/**
 * `lock: 'table'`: one row in `<ledgerTable>_lock` with a token and an expiry, for
 * connections through PgBouncer in transaction pooling (and for PGlite). It is taken with
 * a conditional upsert, atomic in PostgreSQL: a row that has not expired is never replaced.
 * Each take writes a new token (the fence, see `fenceCheck`) and the next epoch; a release
 * leaves the row, expired, so that the epoch goes on counting.
 */
export function tableLease(settings: PgSettings, driver: () => Driver, fence: Fence): PgLease {
  const lock = settings.lockTable
  const take = `with taken as (
  insert into ${lock} as r (name, token, holder, expires_at, epoch) values ('${LEASE_ROW}', $1, $2::jsonb, ${expiresIn(3)}, 1)
  on conflict (name) do update set ${LOCKS_LEASE_ROW}, token = excluded.token, holder = excluded.holder,
    expires_at = excluded.expires_at, backend_pid = null, epoch = coalesce(r.epoch, 0) + 1
  where r.expires_at <= now() or r.token = $4
  returning r.token, r.epoch)
select (select token from taken) as taken, (select epoch from taken) as taken_epoch, ${HOLDER_COLUMNS}
from (select 1) as one left join ${lock} as r on r.name = '${LEASE_ROW}'`

  const leaseFor = (store: string, token: string, ttlMs: number, epoch: number) =>
    createLease({
      ttlMs,
      store,
      epoch,
      async renew() {
        const { rowCount } = await driver().pool.query(
          `update ${lock} set expires_at = ${expiresIn(2)} where name = '${LEASE_ROW}' and token = $1`,
          [token, ttlMs],
        )
        return rowCount === 1
      },
      async release() {
        const { rowCount } = await driver().pool.query(
          `update ${lock} set expires_at = ${RELEASED} where name = '${LEASE_ROW}' and token = $1`,
          [token],
        )
        released(fence, token, rowCount === 1)
      },
    })

  type TakeRow = HolderRow & { taken: string | null; taken_epoch: string | null }
  const attempt = async (options: AcquireOptions) => {
    const token = randomUUID()
    let replaceable: string | null = null
    for (;;) {
      const { rows }: { rows: TakeRow[] } = await driver().pool.query(take, [
        token,
        JSON.stringify(options.holder),
        options.ttlMs,
        replaceable,
      ])
      const row: TakeRow | undefined = rows[0]
      if (row?.taken === token) {
        fence.held = token
        return { lease: leaseFor(options.store, token, options.ttlMs, Number(row.taken_epoch)) }
      }
      const holder = holderOf(row)
      // a runner of this host that died need not be waited for until its lease expires
      if (replaceable === null && row?.token && holder && isHolderGone(holder)) {
        replaceable = row.token
        continue
      }
      return { holder }
    }
  }

  return {
    acquire: (options) =>
      pollForLease({ ...options, attempt: () => withLockTable(driver().pool, settings, () => attempt(options)) }),

    async inspect() {
      try {
        const { rows } = await driver().pool.query<HolderRow>(
          `select ${HOLDER_COLUMNS} from ${lock} as r where r.name = '${LEASE_ROW}' and r.expires_at > now()`,
        )
        return holderOf(rows[0])
      } catch (error) {
        if (isMissingTable(error)) return undefined
        throw error
      }
    },

    async breakLease() {
      try {
        const { rows } = await driver().pool.query<HolderRow>(breakRow(settings, 'true'), [randomUUID()])
        return holderOf(rows[0])
      } catch (error) {
        if (isMissingTable(error)) return undefined
        throw error
      }
    },

    // nothing to end: the lease row expires by itself
    async close() {},
  }
}
