import { FluxError } from '@flux/core'
import type { SqlClient } from './import-format.ts'

/**
 * Statements PostgreSQL refuses inside a transaction block, and a script's own transaction
 * control (which would end flux's transaction early). A migration holding one is written with
 * `-- flux:transaction off`, so flux runs its statements one by one, as psql does.
 */
const OUTSIDE_TRANSACTION: [RegExp, string][] = [
  [/\bcreate\s+(unique\s+)?index\s+concurrently\b/i, 'CREATE INDEX CONCURRENTLY cannot run in a transaction'],
  [/\bdrop\s+index\s+concurrently\b/i, 'DROP INDEX CONCURRENTLY cannot run in a transaction'],
  [/\breindex\b[^;]*\bconcurrently\b/i, 'REINDEX CONCURRENTLY cannot run in a transaction'],
  [/\bdetach\s+partition\b[^;]*\bconcurrently\b/i, 'DETACH PARTITION CONCURRENTLY cannot run in a transaction'],
  [/(^|;)\s*vacuum\b/i, 'VACUUM cannot run in a transaction'],
  [/(^|;)\s*(create|drop)\s+database\b/i, 'CREATE/DROP DATABASE cannot run in a transaction'],
  [/(^|;)\s*alter\s+system\b/i, 'ALTER SYSTEM cannot run in a transaction'],
  [/(^|;)\s*(begin|start\s+transaction|commit|end|rollback)\s*(transaction|work)?\s*;/i, 'it has its own BEGIN/COMMIT'],
]

/** Why `sql` cannot run in flux's transaction, or `undefined` when it can. Comments are not read. */
export function needsNoTransaction(sql: string): string | undefined {
  const code = withoutComments(sql)
  return OUTSIDE_TRANSACTION.find(([pattern]) => pattern.test(code))?.[1]
}

/** The SQL with its comments blanked (quoted text and dollar-quoted bodies kept as they are). */
function withoutComments(sql: string): string {
  return sql.replace(/('(?:[^']|'')*'|\$([A-Za-z_]\w*)?\$[\s\S]*?\$\2\$)|--[^\n]*|\/\*[\s\S]*?\*\//g, (match, kept) =>
    kept === undefined ? ' ' : match,
  )
}

/**
 * Whether the table exists: `name` as the tool writes it, qualified (`drizzle.__drizzle_migrations`)
 * or not (found on the connection's search_path, where the tool created it).
 */
export async function tableExists(client: SqlClient, name: string): Promise<boolean> {
  const { rows } = await client.query<{ found: string | null }>('select to_regclass($1)::text as found', [name])
  return rows[0]?.found != null
}

/** A `DIRTY` error: the tool's ledger holds a failed or half-applied migration. */
export function dirtyError(tool: string, table: string, migration: string, what: string, todo: string): FluxError {
  return new FluxError('DIRTY', `${tool}'s ${table} says ${migration} ${what}: nothing was imported`, {
    migration,
    hint: `${todo}, then run \`flux import ${tool}\` again`,
  })
}

/** A `MISSING` error: the tool's ledger names a migration that has no file (or `what`) in `where`. */
export function missingError(tool: string, table: string, migration: string, where: string, what = 'file'): FluxError {
  return new FluxError(
    'MISSING',
    `${tool}'s ${table} records ${migration} as applied, but ${where} has no ${what} for it: nothing was imported`,
    {
      migration,
      hint: 'point --from at the folder that was deployed (the same checkout as the database), or restore the migration',
    },
  )
}
