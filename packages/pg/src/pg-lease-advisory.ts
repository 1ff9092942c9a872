import { randomBytes, randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { type AcquireOptions, createLease, FluxError, isHolderGone, type LeaseHolder, pollForLease } from '@flux/core'
import type { Driver, Queryable, Session } from './pg-client.ts'
import { type Fence, LEASE_ROW } from './pg-fence.ts'
import {
  breakRow,
  expiresIn,
  HOLDER_COLUMNS,
  type HolderRow,
  holderOf,
  LOCKS_LEASE_ROW,
  type PgLease,
  RELEASED,
  released,
  withLockTable,
} from './pg-lease.ts'
import { isMissingTable } from './pg-ledger.ts'
import type { PgSettings } from './pg-options.ts'

/**
 * `application_name` of the sessions of an adapter with its own pool: `flux <tag>`, and `flux
 * lease <tag>` for its lease session, `<tag>` being the process id and a random part.
 */
export function sessionNames(): { pool: string; lease: string } {
  const tag = `${process.pid}.${randomBytes(4).toString('hex')}`
  return { pool: `${POOL_SESSION_PREFIX}${tag}`, lease: `${LEASE_SESSION_PREFIX}${tag}` }
}
const POOL_SESSION_PREFIX = 'flux '
const LEASE_SESSION_PREFIX = 'flux lease '

/** How long to wait for a terminated holder's session to end and free its lock. */
const TERMINATION_WAIT_MS = 5_000

interface LockHolder {
  /** Backend pid of the session that holds the advisory lock. */
  pid: number
  /** When that session started, ISO-8601. */
  started: string
  /** Who wrote the lease row for that session; unknown between taking the lock and writing it. */
  holder: LeaseHolder | undefined
  expired: boolean
}

/**
 * `lock: 'advisory'`: `pg_try_advisory_lock` on a session of its own, held for the lease's
 * life. PostgreSQL frees the lock when the session ends, so a runner that crashes or loses
 * its connection frees the store at once. The lock says nothing about who holds it, so the
 * holder (and an expiry, renewed with the lease) is written to a row of `<ledgerTable>_lock`
 * tagged with the session's backend pid; a row whose pid does not hold the lock is stale.
 * A holder that stops renewing (a frozen VM) keeps its session, so a waiter that sees its
 * row expired ends that session with `pg_terminate_backend` (and its other sessions, see
 * `terminate`). A runner configured with `lock: 'table'` is respected too: its unexpired row
 * is never replaced. Taking the lock writes a new token and epoch in the row (the fence, see
 * `fenceCheck`); releasing it leaves the row, expired.
 */
export function advisoryLease(settings: PgSettings, driver: () => Driver, fence: Fence): PgLease {
  const lock = settings.lockTable
  const [classid, objid] = settings.leaseKey
  // a bigint-free key: two int4, shown in pg_locks as classid, objid and objsubid 2
  const ours = `l.locktype = 'advisory' and l.granted and l.classid = ${classid} and l.objid = ${objid} and l.objsubid = 2
  and l.database = (select oid from pg_database where datname = current_database())`
  const started = `(select to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
    from pg_stat_activity a where a.pid = l.pid) as started`
  const lockOnly = `select l.pid, ${started}, null as token, null as holder, null as expired, null as expires_at,
  null as epoch from pg_locks l where ${ours}`
  const withRow = `select l.pid, ${started}, ${HOLDER_COLUMNS}
from pg_locks l left join ${lock} r on r.name = '${LEASE_ROW}' and r.backend_pid = l.pid where ${ours}`
  // sessions of leases this adapter holds, ended by close()
  const sessions = new Set<Session>()
  // a session connected ahead by warm(), for the next acquire(); close() gives up connecting it
  let spare: Promise<Session> | undefined
  let abandon: AbortController | undefined
  const takeSession = async (): Promise<Session> => {
    const early = spare
    spare = undefined
    const session = await early?.catch(() => undefined)
    if (session?.alive) return session
    await session?.end()
    return driver().session!()
  }

  /** The holder of an unexpired row without a session: a runner configured with `lock: 'table'`. */
  const tableHolder = async (queryable: Queryable, verb: 'select' | 'break') => {
    const where = `r.backend_pid is null and r.expires_at > now()`
    try {
      const { rows } =
        verb === 'select'
          ? await queryable.query<HolderRow>(
              `select ${HOLDER_COLUMNS} from ${lock} r where r.name = '${LEASE_ROW}' and ${where}`,
            )
          : await queryable.query<HolderRow>(breakRow(settings, where), [randomUUID()])
      return holderOf(rows[0])
    } catch (error) {
      if (isMissingTable(error)) return undefined
      throw error
    }
  }

  const endSession = async (session: Session) => {
    sessions.delete(session)
    await session.end()
  }

  const lockHolder = async (queryable: Queryable): Promise<LockHolder | undefined> => {
    type Row = HolderRow & { pid: number; started: string | null }
    let rows: Row[]
    try {
      ;({ rows } = await queryable.query<Row>(withRow))
    } catch (error) {
      if (!isMissingTable(error)) throw error
      ;({ rows } = await queryable.query<Row>(lockOnly))
    }
    const row = rows[0]
    if (!row) return undefined
    return { pid: row.pid, started: row.started ?? '', holder: holderOf(row), expired: row.expired === true }
  }

  /**
   * Ends the session holding the lock, and the other sessions of the same adapter (named after
   * it: see `sessionNames`), so that a holder that froze keeps no transaction open for whoever
   * takes over to wait for; and waits until PostgreSQL has freed the lock.
   */
  const terminate = async (queryable: Queryable, pid: number) => {
    try {
      await queryable.query(
        `with holder as (
  select substring(application_name from '^${LEASE_SESSION_PREFIX}(.+)$') as tag, datname from pg_stat_activity where pid = $1)
select pg_terminate_backend(a.pid) from pg_stat_activity a, holder h
where a.pid = $1 or (a.application_name = '${POOL_SESSION_PREFIX}' || h.tag and a.datname = h.datname)`,
        [pid],
      )
    } catch (error) {
      throw new FluxError(
        'STORE_ERROR',
        `could not end session ${pid} of ${settings.description}, which holds the lease: ${(error as Error).message}`,
        {
          hint: 'ending another session needs the same role, or membership in pg_signal_backend; ask a DBA to run `select pg_terminate_backend(<pid>)`',
          cause: error,
        },
      )
    }
    const deadline = Date.now() + TERMINATION_WAIT_MS
    while ((await lockHolder(queryable))?.pid === pid && Date.now() < deadline) await sleep(20)
  }

  const leaseFor = (session: Session, store: string, token: string, ttlMs: number, epoch: number) => {
    const lease = createLease({
      ttlMs,
      store,
      epoch,
      async renew() {
        if (session.alive) {
          try {
            const { rowCount } = await session.query(
              `update ${lock} set expires_at = ${expiresIn(2)} where name = '${LEASE_ROW}' and token = $1
  and exists (select 1 from pg_locks l where l.pid = pg_backend_pid() and ${ours})`,
              [token, ttlMs],
            )
            if (rowCount === 1) return true
          } catch (error) {
            if (!sessionGone(session, error)) throw error
          }
        }
        // the session is gone, and its lock with it; or the lock or its row was taken from us
        const ended = !session.alive
        await endSession(session)
        if (!ended) return false
        throw new FluxError('LEASE_LOST', `${settings.description}: the lease session ended`, {
          details: { reason: 'its session with the server ended, which freed the advisory lock' },
        })
      },
      async release() {
        if (!session.alive) return
        try {
          const { rows } = await session.query<{ current: boolean }>(
            `with freed as (update ${lock} set expires_at = ${RELEASED}, backend_pid = null
  where name = '${LEASE_ROW}' and token = $1 returning 1)
select pg_advisory_unlock(${classid}, ${objid}), exists (select from freed) as current`,
            [token],
          )
          released(fence, token, rows[0]?.current === true)
        } finally {
          await endSession(session)
        }
      },
    })
    // the lock ends with its session: once that fails, the lease is lost now, not at the next renewal
    session.ended.addEventListener('abort', () => lease.renew().catch(() => {}), { once: true })
    return lease
  }

  const attempt = async (session: Session, options: AcquireOptions) => {
    for (let tries = 0; ; tries++) {
      const { rows } = await session.query<{ locked: boolean }>(
        `select pg_try_advisory_lock(${classid}, ${objid}) as locked`,
      )
      if (rows[0]?.locked) {
        const token = randomUUID()
        // the row of a runner in lock 'table' mode (no session) is replaced only once expired
        const { rows: taken } = await withLockTable(session, settings, () =>
          session.query<{ epoch: string }>(
            `insert into ${lock} as r (name, token, holder, expires_at, backend_pid, epoch)
values ('${LEASE_ROW}', $1, $2::jsonb, ${expiresIn(3)}, pg_backend_pid(), 1)
on conflict (name) do update set ${LOCKS_LEASE_ROW}, token = excluded.token, holder = excluded.holder,
  expires_at = excluded.expires_at, backend_pid = excluded.backend_pid, epoch = coalesce(r.epoch, 0) + 1
where r.backend_pid is not null or r.expires_at <= now()
returning r.epoch`,
            [token, JSON.stringify(options.holder), options.ttlMs],
          ),
        )
        if (taken[0]) {
          fence.held = token
          return { lease: leaseFor(session, options.store, token, options.ttlMs, Number(taken[0].epoch)) }
        }
        const { rows: held } = await session.query<HolderRow>(
          `select pg_advisory_unlock(${classid}, ${objid}), ${HOLDER_COLUMNS} from ${lock} r where r.name = '${LEASE_ROW}'`,
        )
        return { holder: holderOf(held[0]) }
      }
      const current = await lockHolder(session)
      if (tries > 0 || !current?.holder || !(current.expired || isHolderGone(current.holder))) {
        return { holder: current?.holder }
      }
      await terminate(session, current.pid)
    }
  }

  return {
    warm() {
      if (spare) return
      abandon = new AbortController()
      spare = driver().session!(abandon.signal)
      // a failure shows again, and is reported, when acquire() connects anew
      spare.catch(() => {})
    },

    async acquire(options) {
      const session = await takeSession()
      sessions.add(session)
      let taken = false
      try {
        const lease = await pollForLease({ ...options, attempt: () => attempt(session, options) })
        taken = true
        return lease
      } finally {
        if (!taken) await endSession(session)
      }
    },

    async inspect() {
      const current = await lockHolder(driver().pool)
      if (current) return current.holder ?? unknownHolder(current)
      return tableHolder(driver().pool, 'select')
    },

    async breakLease() {
      const queryable = driver().pool
      const current = await lockHolder(queryable)
      if (!current) return tableHolder(queryable, 'break')
      await terminate(queryable, current.pid)
      await queryable
        .query(breakRow(settings, 'r.backend_pid = $2'), [randomUUID(), current.pid])
        .catch((error: unknown) => {
          if (!isMissingTable(error)) throw error
        })
      return current.holder ?? unknownHolder(current)
    },

    async close() {
      const early = spare
      spare = undefined
      abandon?.abort()
      await Promise.all([
        ...[...sessions].map(endSession),
        early?.then(
          (session) => session.end(),
          () => {},
        ),
      ])
    },
  }
}

/** A session that holds the lock without a row (it is taking the lease right now, or it is not flux). */
function unknownHolder(current: LockHolder): LeaseHolder {
  return { host: 'unknown', pid: 0, runId: `unknown (postgres session ${current.pid})`, since: current.started }
}

/** Whether a failed query means the session itself is gone (terminated, connection lost). */
function sessionGone(session: Session, error: unknown): boolean {
  if (!session.alive) return true
  const code = (error as { code?: unknown }).code
  if (code === '57P01' || code === '57P02' || code === '57P03') return true
  return /connection terminated|not queryable|ECONNRESET|EPIPE/i.test((error as Error).message ?? '')
}
