import type { Ledger, LedgerEntry } from '@flux/core'
import pg from 'pg'
import type { Queryable } from './pg-client.ts'
import { type Fence, fenceCheck, fenceRefusal, isFenceRefusal } from './pg-fence.ts'
import type { PgSettings } from './pg-options.ts'

/** What one adapter knows of its ledger table: `true` once a read or a committed write showed it. */
export interface TableState {
  ledger: boolean
}

/** pg error codes: undefined_table, invalid_schema_name. */
const MISSING_CODES = new Set(['42P01', '3F000'])

export function isMissingTable(error: unknown): boolean {
  return MISSING_CODES.has((error as { code?: unknown } | undefined)?.code as string)
}

/** undefined_column: a lock table made by an older version, without `epoch`. */
export function isMissingColumn(error: unknown): boolean {
  return (error as { code?: unknown } | undefined)?.code === '42703'
}

const COLUMNS = {
  ledger: `
    seq bigint generated always as identity,
    id text primary key,
    checksum text not null,
    status text not null check (status in ('applied', 'running')),
    applied_at timestamptz not null,
    duration_ms bigint not null,
    run_id text not null,
    flux_version text not null,
    checkpoint jsonb`,
  fleets: `
    fleet text not null,
    member text not null,
    head text not null,
    marked_at timestamptz not null,
    primary key (fleet, member)`,
  lock: `
    name text primary key,
    token text not null,
    holder jsonb not null,
    expires_at timestamptz not null,
    backend_pid integer,
    epoch bigint`,
}

/**
 * Creates the schema and the table if missing, in one statement. `CREATE … IF NOT EXISTS`
 * alone races between two processes on an empty database (a unique violation in the
 * catalog), so creators take a transaction advisory lock first; and it checks existence
 * itself because `IF NOT EXISTS` still needs the CREATE privilege when the table exists.
 * A lock table made by an older version gets its `epoch` column.
 */
export async function ensureTable(
  queryable: Queryable,
  settings: PgSettings,
  table: keyof typeof COLUMNS,
): Promise<void> {
  await queryable.query(ensureSql(settings, table))
}

function ensureSql(settings: PgSettings, table: keyof typeof COLUMNS): string {
  const [name, literal] = {
    ledger: [settings.ledgerTable, settings.ledgerLiteral],
    lock: [settings.lockTable, settings.lockLiteral],
    fleets: [settings.fleetsTable, settings.fleetsLiteral],
  }[table]
  return `do $flux$ begin
  perform pg_advisory_xact_lock(${settings.ddlKey[0]}, ${settings.ddlKey[1]});
  if to_regnamespace(${settings.schemaLiteral}) is null then create schema "${settings.schema}"; end if;
  if to_regclass(${literal}) is null then create table ${name} (${COLUMNS[table]});${
    table === 'lock'
      ? `
  elsif not exists (select from pg_attribute where attrelid = to_regclass(${literal}) and attname = 'epoch' and not attisdropped)
    then alter table ${name} add column epoch bigint;`
      : ''
  }
  end if;
end $flux$`
}

/** Whether the table exists, without failing (inside a transaction a failure would abort it). */
async function tableExists(queryable: Queryable, literal: string): Promise<boolean> {
  const { rows } = await queryable.query<{ found: boolean }>(`select to_regclass(${literal}) is not null as found`)
  return rows[0]?.found === true
}

interface LedgerRow {
  id: string
  checksum: string
  status: LedgerEntry['status']
  applied_at: string
  duration_ms: number
  run_id: string
  flux_version: string
  checkpoint: string | null
}

function entryOf(row: LedgerRow): LedgerEntry {
  const entry: LedgerEntry = {
    id: row.id,
    checksum: row.checksum,
    status: row.status,
    appliedAt: row.applied_at,
    durationMs: Number(row.duration_ms),
    runId: row.run_id,
    fluxVersion: row.flux_version,
  }
  // read as text: SQL NULL is "no checkpoint", JSON null is a checkpoint of null
  if (row.checkpoint !== null) entry.checkpoint = JSON.parse(row.checkpoint)
  return entry
}

/** Time the server spent on the current query so far. */
const ELAPSED = '(clock_timestamp() - statement_timestamp())'

interface LedgerSql {
  select: string
  upsert(values: string): string
  /** `(<types>) as <upsert>`, for `PREPARE <name>`; `$9`: add the time of statements queued before (see deferredValues). */
  prepared: string
  /** Base name of the prepared write. */
  statementKey: string
}

const sqlOfSettings = new WeakMap<PgSettings, LedgerSql>()

/** The ledger's SQL, built once per adapter: a transaction makes a ledger of its own. */
function ledgerSql(settings: PgSettings): LedgerSql {
  let sql = sqlOfSettings.get(settings)
  if (sql) return sql
  const table = settings.ledgerTable
  const upsert = (
    values: string,
  ) => `insert into ${table} (id, checksum, status, applied_at, duration_ms, run_id, flux_version, checkpoint)
values (${values})
on conflict (id) do update set checksum = excluded.checksum, status = excluded.status,
  applied_at = excluded.applied_at, duration_ms = excluded.duration_ms, run_id = excluded.run_id,
  flux_version = excluded.flux_version, checkpoint = excluded.checkpoint`
  sql = {
    select: `select id, checksum, status,
  to_char(applied_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as applied_at,
  duration_ms::float8 as duration_ms, run_id, flux_version, checkpoint::text as checkpoint
from ${table} order by seq`,
    upsert,
    // parsing and planning the upsert costs more than running it
    prepared: `(text, text, text, timestamptz, bigint, text, text, jsonb, boolean) as ${upsert(`$1, $2, $3,
  $4 + case when $9 then ${ELAPSED} else interval '0' end,
  $5 + case when $9 then (extract(epoch from ${ELAPSED}) * 1000)::bigint else 0 end, $6, $7, $8`)}`,
    statementKey: `flux_ledger_write_${settings.leaseKey[0].toString(36)}`,
  }
  sqlOfSettings.set(settings, sql)
  return sql
}

/**
 * The ledger in `<schema>.<ledgerTable>`, through `queryable`. In a transaction
 * (`transactional`), writes are queued (see `Queryable.defer`), and it never lets a query fail
 * on a missing table, which would abort the transaction: it checks first, and creates the
 * table within the transaction. While the adapter holds a lease (`fence.held`), every write
 * goes with a fence check (see {@link fenceCheck}): in a transaction, once, before its first
 * write; outside one, in the same message, which PostgreSQL runs as one transaction.
 */
export function pgLedger(
  settings: PgSettings,
  queryable: Queryable,
  state: TableState,
  transactional: boolean,
  fence: Fence,
): Ledger {
  const table = settings.ledgerTable
  const { select, upsert, prepared, statementKey } = ledgerSql(settings)

  const columns = (entry: LedgerEntry) => [
    entry.id,
    entry.checksum,
    entry.status,
    entry.appliedAt,
    entry.durationMs,
    entry.runId,
    entry.fluxVersion,
    entry.checkpoint === undefined ? null : JSON.stringify(entry.checkpoint),
  ]
  // in a server transaction writes wait to travel with COMMIT, as literals: parameters would
  // need a round trip of their own (escaped by the driver, never built by hand); in a PGlite
  // one they wait for its next query or its commit
  const defer = transactional ? (queryable.defer ?? queryable.queueOwn)?.bind(queryable) : undefined
  if (transactional && !defer) throw new TypeError('a transaction of the pg driver queues no statements')
  // a migration's statements queued before the write run in the same query, after its entry
  // was made: their time, measured by the server, is added to its end time and duration
  const deferredValues = (entry: LedgerEntry, timed: boolean) => {
    const values = columns(entry).map(literal)
    if (timed) {
      values[3] = `${values[3]}::timestamptz + ${ELAPSED}`
      values[4] = `${values[4]} + (extract(epoch from ${ELAPSED}) * 1000)::bigint`
    }
    return `${values.join(', ')}::jsonb`
  }
  // in a transaction, checked once: the row lock it takes lasts until the commit
  let fenced = false
  const deferFence = () => {
    if (fenced || fence.held === undefined) return
    defer!(fenceCheck(settings, fence.held))
    fenced = true
  }
  /** Outside a transaction: the write alone, or (holding a lease) the fence check and the write as one script. */
  const writeOutside = async (what: string, text: string, params: unknown[], literalText: () => string) => {
    try {
      if (fence.held === undefined) await queryable.query(text, params)
      else await queryable.query(`${fenceCheck(settings, fence.held)};\n${literalText()}`)
    } catch (error) {
      throw isFenceRefusal(error) ? fenceRefusal(settings, what, error) : error
    }
  }

  return {
    async read() {
      if (transactional && !state.ledger && !(await tableExists(queryable, settings.ledgerLiteral))) return []
      try {
        const { rows } = await queryable.query<LedgerRow>(select)
        state.ledger = true
        return rows.map(entryOf)
      } catch (error) {
        // a store that was never migrated has no table: reading creates nothing
        if (!transactional && isMissingTable(error)) {
          state.ledger = false
          return []
        }
        throw error
      }
    },

    async record(entry) {
      if (defer) {
        deferFence()
        // in a transaction a failed insert would abort it: create the table first if unsure
        if (!state.ledger) defer(ensureSql(settings, 'ledger'))
        const timed = queryable.holdsDeferredWork?.() === true
        // a prepared statement where the connection allows (see TransactionConnections)
        const name = queryable.prepared?.(statementKey, prepared)
        defer(
          name
            ? `execute ${name}(${columns(entry).map(literal).join(', ')}, ${timed})`
            : upsert(deferredValues(entry, timed)),
        )
        state.ledger = true
        return
      }
      const write = () =>
        writeOutside(
          `record ${entry.id} in the ledger`,
          upsert('$1, $2, $3, $4, $5, $6, $7, $8::jsonb'),
          columns(entry),
          () => upsert(deferredValues(entry, false)),
        )
      try {
        await write()
      } catch (error) {
        if (!isMissingTable(error)) throw error
        // first write to this store (or the table was dropped): create it, write again
        await ensureTable(queryable, settings, 'ledger')
        await write()
      }
      state.ledger = true
    },

    async remove(id) {
      if (transactional && !state.ledger && !(await tableExists(queryable, settings.ledgerLiteral))) return
      if (defer) {
        deferFence()
        defer(`delete from ${table} where id = ${literal(id)}`)
        return
      }
      try {
        await writeOutside(
          `remove ${id} from the ledger`,
          `delete from ${table} where id = $1`,
          [id],
          () => `delete from ${table} where id = ${literal(id)}`,
        )
      } catch (error) {
        if (!isMissingTable(error)) throw error
      }
    },
  }
}

/** An SQL literal for a ledger value. */
function literal(value: string | number | null): string {
  if (value === null) return 'null'
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`a ledger entry holds a number that is not finite: ${value}`)
    return String(value)
  }
  // the driver's escaping only changes quotes and backslashes: without them, its result is known
  return value.includes("'") || value.includes('\\') ? pg.escapeLiteral(value) : `'${value}'`
}
