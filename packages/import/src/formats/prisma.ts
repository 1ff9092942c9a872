import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ForeignMigration, ImportFormat, SqlClient } from '../import-format.ts'
import { dirtyError, missingError, needsNoTransaction, tableExists } from '../sql-text.ts'

const TABLE = '_prisma_migrations'

interface Row {
  migration_name: string
  finished_at: Date | null
  rolled_back_at: Date | null
}

/**
 * Prisma Migrate: `prisma/migrations/<timestamp>_<name>/migration.sql`, applied in folder-name
 * order (`migration_lock.toml` beside them is not a migration). Its ledger `_prisma_migrations`
 * has a row per attempt: `finished_at` set when it succeeded, `rolled_back_at` set by `prisma
 * migrate resolve --rolled-back`; a row with neither is a failed migration, which stops `prisma
 * migrate deploy` too. Prisma has no down migrations.
 */
export const prisma: ImportFormat = {
  tool: 'prisma',
  summary: '<timestamp>_<name>/migration.sql; its _prisma_migrations table (finished_at, rolled_back_at)',
  storeKind: 'pg',
  defaultFrom: 'prisma/migrations',

  async readHistory(dir) {
    const entries = await readdir(dir, { withFileTypes: true })
    const migrations: ForeignMigration[] = []
    const skipped: { file: string; reason: string }[] = []
    for (const entry of entries.filter((candidate) => candidate.isDirectory()).sort(byName)) {
      let up: string
      try {
        up = await readFile(join(dir, entry.name, 'migration.sql'), 'utf8')
      } catch {
        skipped.push({ file: entry.name, reason: 'a folder without migration.sql' })
        continue
      }
      const reason = needsNoTransaction(up)
      migrations.push({
        key: entry.name,
        name: entry.name,
        sources: [`${entry.name}/migration.sql`],
        up,
        transaction: reason === undefined,
        ...(reason === undefined ? {} : { transactionReason: reason }),
      })
    }
    return { migrations, skipped }
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<Row>(
      `select migration_name, finished_at, rolled_back_at from ${TABLE} order by started_at, migration_name`,
    )
    const names = new Set(history.migrations.map((migration) => migration.key))
    const applied = new Set<string>()
    for (const row of rows) if (row.finished_at !== null && row.rolled_back_at === null) applied.add(row.migration_name)
    for (const row of rows) {
      if (applied.has(row.migration_name)) continue
      if (row.finished_at === null && row.rolled_back_at === null) {
        throw dirtyError(
          'prisma',
          TABLE,
          row.migration_name,
          'failed (finished_at is null)',
          'undo or finish its changes by hand, then `prisma migrate resolve --rolled-back` or `--applied` it, and `prisma migrate deploy`',
        )
      }
      throw dirtyError(
        'prisma',
        TABLE,
        row.migration_name,
        'was rolled back (rolled_back_at is set) and not applied since',
        'apply it with `prisma migrate deploy`, or remove it from the folder if it is abandoned',
      )
    }
    for (const name of applied) if (!names.has(name)) throw missingError('prisma', TABLE, name, 'the migrations folder')
    return { table: TABLE, applied: [...applied] }
  },
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0
}
