import { randomUUID } from 'node:crypto'
import { type AcquireOptions, createLease, isHolderGone, type Lease, type LeaseHolder, pollForLease } from '@flux/core'
import type { Driver, Queryable } from './pg-client.ts'
import { ensureTable, isMissingTable } from './pg-ledger.ts'
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

/** The lease row's one key: a lock table holds the lease of one ledger. */
export const LEASE_ROW = 'lease'

/** `now() + $n milliseconds`, in SQL. */
export const expiresIn = (parameter: number) => `now() + $${parameter}::float8 * interval '1 millisecond'`

/** Columns giving the holder back as JSON text, with its expiry as ISO-8601. */
export const HOLDER_COLUMNS = `r.token, r.holder::text as holder, r.expires_at <= now() as expired,
  to_char(r.expires_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as expires_at`

export interface HolderRow {
  token: string | null
  holder: string | null
  expired: boolean | null
  expires_at: string | null
}

export function holderOf(row: HolderRow | undefined): LeaseHolder | undefined {
  if (!row?.holder) return undefined
  const holder = JSON.parse(row.holder) as LeaseHolder
  return row.expires_at ? { ...holder, expiresAt: row.expires_at } : holder
}

/** Runs `call`, and if the lock table is missing (first lease of this store), creates it and runs it again. */
export async function withLockTable<T>(queryable: Queryable, settings: PgSettings, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (error) {
    if (!isMissingTable(error)) throw error
    await ensureTable(queryable, settings, 'lock')
    return call()
  }
}

/**
 * `lock: 'table'`: one row in `<ledgerTable>_lock` with a token and an expiry, for
 * connections through PgBouncer in transaction pooling (and for PGlite). It is taken with
 * a conditional upsert, atomic in PostgreSQL: a row that has not expired is never replaced.
 */
export function tableLease(settings: PgSettings, driver: () => Driver): PgLease {
  const lock = settings.lockTable
  const take = `with taken as (
  insert into ${lock} as r (name, token, holder, expires_at) values ('${LEASE_ROW}', $1, $2::jsonb, ${expiresIn(3)})
  on conflict (name) do update set token = excluded.token, holder = excluded.holder,
    expires_at = excluded.expires_at, backend_pid = null
  where r.expires_at <= now() or r.token = $4
  returning r.token)
select (select token from taken) as taken, ${HOLDER_COLUMNS}
from (select 1) as one left join ${lock} as r on r.name = '${LEASE_ROW}'`

  const leaseFor = (store: string, token: string, ttlMs: number) =>
    createLease({
      ttlMs,
      store,
      async renew() {
        const { rowCount } = await driver().pool.query(
          `update ${lock} set expires_at = ${expiresIn(2)} where name = '${LEASE_ROW}' and token = $1`,
          [token, ttlMs],
        )
        return rowCount === 1
      },
      async release() {
        await driver().pool.query(`delete from ${lock} where name = '${LEASE_ROW}' and token = $1`, [token])
      },
    })

  const attempt = async (options: AcquireOptions) => {
    const token = randomUUID()
    let replaceable: string | null = null
    for (;;) {
      const { rows }: { rows: (HolderRow & { taken: string | null })[] } = await driver().pool.query(take, [
        token,
        JSON.stringify(options.holder),
        options.ttlMs,
        replaceable,
      ])
      const row: (HolderRow & { taken: string | null }) | undefined = rows[0]
      if (row?.taken === token) return { lease: leaseFor(options.store, token, options.ttlMs) }
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
        const { rows } = await driver().pool.query<HolderRow>(
          `delete from ${lock} as r where r.name = '${LEASE_ROW}' returning ${HOLDER_COLUMNS}`,
        )
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
