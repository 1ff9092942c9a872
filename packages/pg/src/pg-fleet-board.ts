import type { FleetBoard } from '@flux/core'
import type { Queryable } from './pg-client.ts'
import { ensureTable, isMissingTable } from './pg-ledger.ts'
import type { PgSettings } from './pg-options.ts'

/** The server's time now, as ISO-8601 in UTC to the microsecond. */
const NOW = `to_char(now() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`

/**
 * A fleet board in `<schema>.<ledgerTable>_fleets`: a row per fleet and member, with the head
 * it was last recorded at and when (the server's clock). Made on the first record, beside the
 * ledger, as the ledger's own tables are made ({@link ensureTable}).
 */
export function pgFleetBoard(settings: PgSettings, pool: Queryable): FleetBoard {
  const table = settings.fleetsTable
  const mark = `insert into ${table} (fleet, member, head, marked_at) select $1, member, $3, now() from unnest($2::text[]) as member
on conflict (fleet, member) do update set head = excluded.head, marked_at = excluded.marked_at`
  // a claim is a row whose head is `claim:<runner>`, never a digest: readers of marks skip it.
  // It replaces the row unless the member was marked at the head since the reader's time, or
  // another runner's claim is younger than the reader allows; the row as it was says which.
  const claim = `with previous as (select head from ${table} where fleet = $1 and member = $2),
claimed as (
  insert into ${table} as board (fleet, member, head, marked_at) values ($1, $2, $3, now())
  on conflict (fleet, member) do update set head = excluded.head, marked_at = excluded.marked_at
  where not (board.head = $4 and board.marked_at >= $5::timestamptz)
    and not (board.head like 'claim:%' and board.head <> excluded.head and board.marked_at > now() - $6 * interval '1 millisecond')
  returning 1
)
select exists (select from claimed) as claimed, (select head from previous) as head`
  /** A write that makes the board's table when it is not there yet, then writes again. */
  const writing = async <T>(write: () => Promise<T>): Promise<T> => {
    try {
      return await write()
    } catch (error) {
      if (!isMissingTable(error)) throw error
      await ensureTable(pool, settings, 'fleets')
      return await write()
    }
  }
  return {
    async mark(fleet, members, head) {
      await writing(() => pool.query(mark, [fleet, members, head]))
    },
    async claim(fleet, member, head, runner, since, ttlMs) {
      const { rows } = await writing(() =>
        pool.query<{ claimed: boolean; head: string | null }>(claim, [
          fleet,
          member,
          `claim:${runner}`,
          head,
          since,
          ttlMs,
        ]),
      )
      const [row] = rows
      if (row!.claimed) return 'mine'
      return row!.head === head ? 'marked' : 'theirs'
    },
    async read(fleet, head, since) {
      if (since !== undefined) {
        try {
          const { rows } = await pool.query<{ now: string; members: string[] }>(
            `select ${NOW} as now, array(select member from ${table} where fleet = $1 and head = $2 and marked_at >= $3::timestamptz) as members`,
            [fleet, head, since],
          )
          return { now: rows[0]!.now, members: rows[0]!.members }
        } catch (error) {
          if (!isMissingTable(error)) throw error
        }
      }
      const { rows } = await pool.query<{ now: string }>(`select ${NOW} as now`)
      return { now: rows[0]!.now, members: [] }
    },
  }
}
