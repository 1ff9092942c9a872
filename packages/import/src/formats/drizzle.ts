import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FluxError } from '@flux/core'
import type { ForeignMigration, ImportFormat, SqlClient } from '../import-format.ts'
import { missingError, needsNoTransaction, tableExists } from '../sql-text.ts'

/** Where drizzle-orm's `migrate()` records what it applied, unless its config names another table. */
const TABLE = 'drizzle.__drizzle_migrations'

interface JournalEntry {
  idx?: number
  when: number
  tag: string
  breakpoints?: boolean
}

/**
 * Drizzle (drizzle-kit's output, run by drizzle-orm's `migrate()`): `meta/_journal.json` lists the
 * migrations in order, each `<tag>.sql`, its statements split by `--> statement-breakpoint` (an
 * SQL comment: the file runs as it is). The ledger `drizzle.__drizzle_migrations (id, hash,
 * created_at)` gets a row per migration, `created_at` being the journal's `when`; `migrate()`
 * applies every migration whose `when` is later than the newest `created_at`, so everything up
 * to it counts as applied. Drizzle has no down migrations.
 */
export const drizzle: ImportFormat = {
  tool: 'drizzle',
  summary: 'meta/_journal.json and <tag>.sql; its drizzle.__drizzle_migrations table (hash, created_at)',
  storeKind: 'pg',
  defaultFrom: 'drizzle',

  async readHistory(dir) {
    const journalFile = join(dir, 'meta', '_journal.json')
    let journal: { entries?: JournalEntry[] }
    try {
      journal = JSON.parse(await readFile(journalFile, 'utf8'))
    } catch (error) {
      throw new FluxError('USAGE', `${journalFile} could not be read: ${(error as Error).message}`, {
        file: journalFile,
        hint: 'pass --from <the folder drizzle-kit generates into, the one holding meta/_journal.json>',
      })
    }
    const migrations: ForeignMigration[] = []
    for (const entry of journal.entries ?? []) {
      const file = `${entry.tag}.sql`
      let up: string
      try {
        up = await readFile(join(dir, file), 'utf8')
      } catch {
        throw new FluxError('MIGRATION_INVALID', `${join(dir, file)} is in meta/_journal.json but is missing`, {
          file: join(dir, file),
          hint: "drizzle's migrate() refuses this folder too: restore the file, or remove its journal entry",
        })
      }
      const reason = needsNoTransaction(up)
      migrations.push({
        key: String(entry.when),
        name: entry.tag,
        sources: [file],
        up,
        transaction: reason === undefined,
        ...(reason === undefined ? {} : { transactionReason: reason }),
      })
    }
    return { migrations }
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<{ created_at: string | null; hash: string }>(
      `select created_at::text as created_at, hash from ${TABLE} order by id`,
    )
    const keys = new Set(history.migrations.map((migration) => migration.key))
    for (const row of rows) {
      if (row.created_at === null || !keys.has(row.created_at)) {
        throw missingError(
          'drizzle',
          TABLE,
          `the migration of created_at ${row.created_at} (hash ${row.hash.slice(0, 12)}…)`,
          'meta/_journal.json',
          'entry',
        )
      }
    }
    if (rows.length === 0) return { table: TABLE, applied: [] }
    const newest = rows.reduce((top, row) => (BigInt(row.created_at!) > top ? BigInt(row.created_at!) : top), 0n)
    // as migrate() decides: every migration whose `when` is not later than the newest row
    return {
      table: TABLE,
      applied: history.migrations
        .filter((migration) => BigInt(migration.key) <= newest)
        .map((migration) => migration.key),
    }
  },
}
