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
  return {
    async mark(fleet, members, head) {
      const params = [fleet, members, head]
      try {
        await pool.query(mark, params)
      } catch (error) {
        if (!isMissingTable(error)) throw error
        await ensureTable(pool, settings, 'fleets')
        await pool.query(mark, params)
      }
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
