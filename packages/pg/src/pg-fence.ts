import { type FluxError, type LeaseHolder, leaseTakenOver } from '@flux/core'
import type { PgSettings } from './pg-options.ts'

/** The lease row's one key: a lock table holds the lease of one ledger. */
export const LEASE_ROW = 'lease'

/**
 * The fencing token of the lease one adapter instance holds: set when it takes a lease, cleared
 * when it releases one that was still current, kept when the lease was lost or taken over (so
 * its writes stay refused). `undefined`: the instance holds no lease and writes unconditionally.
 */
export interface Fence {
  held: string | undefined
}

/** The SQLSTATE a refused fence check raises (class `FX`: no PostgreSQL error uses it). */
export const FENCE_SQLSTATE = 'FX001'

const TOKEN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

/**
 * A statement that fails with {@link FENCE_SQLSTATE} unless `token` is the current token of the
 * lease row, and otherwise keeps that row locked `FOR KEY SHARE` until the transaction ends. A
 * take-over or a break locks the row `FOR UPDATE` (see `LOCKS_LEASE_ROW`), so it waits for a
 * transaction that passed the check to commit, and commits before a later check reads the row:
 * a write is checked against the lease atomically with its commit. Renewals (plain updates) do
 * not wait for it. The error's detail is, as JSON, the lease's latest holder (which took it over,
 * or took it after that, and may have released it since), unless the lease was broken since.
 */
export function fenceCheck(settings: PgSettings, token: string): string {
  // inlined, so that the check travels in a script with the ledger write and COMMIT
  if (!TOKEN.test(token)) throw new TypeError(`a lease token is not a UUID: ${JSON.stringify(token)}`)
  const lock = settings.lockTable
  return `do $fence$ begin
  perform from ${lock} where name = '${LEASE_ROW}' and token = '${token}' for key share;
  if not found then
    raise exception using errcode = '${FENCE_SQLSTATE}', message = 'flux: the lease of this ledger was taken over',
      detail = coalesce((select (holder || jsonb_build_object('epoch', epoch))::text from ${lock}
        where name = '${LEASE_ROW}' and holder ? 'host'), '');
  end if;
end $fence$`
}

export function isFenceRefusal(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === FENCE_SQLSTATE
}

/** The `LEASE_LOST` error of a write refused by {@link fenceCheck}, naming the holder it reported. */
export function fenceRefusal(settings: PgSettings, what: string, error: unknown): FluxError {
  const detail = (error as { detail?: unknown }).detail
  let holder: LeaseHolder | undefined
  if (typeof detail === 'string' && detail !== '') {
    const { epoch, ...rest } = JSON.parse(detail) as LeaseHolder & { epoch: number | null }
    holder = epoch === null ? rest : { ...rest, epoch: Number(epoch) }
  }
  return takenOver(settings, what, holder, error)
}

/** `LEASE_LOST`: this instance could not do `what`, because its lease is now `holder`'s (or free). */
export function takenOver(
  settings: PgSettings,
  what: string,
  holder: LeaseHolder | undefined,
  cause: unknown,
): FluxError {
  const error = leaseTakenOver(settings.description, what, holder)
  error.cause = cause
  return error
}
