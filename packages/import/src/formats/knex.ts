import { readdir } from 'node:fs/promises'
import { folderEntry } from '../baseline.ts'
import type { ForeignHistory, ImportFormat, SqlClient } from '../import-format.ts'
import { missingError, tableExists } from '../sql-text.ts'

/** The extensions knex loads by default (`DEFAULT_LOAD_EXTENSIONS` of its migrations loader). */
const EXTENSIONS = ['.co', '.coffee', '.eg', '.iced', '.js', '.cjs', '.litcoffee', '.ls', '.ts']
const TABLE = 'knex_migrations'

/**
 * knex: its migrations are JavaScript, so flux writes a baseline that stands for those
 * `knex_migrations (id, name, batch, migration_time)` records (`name` is the file name, with its
 * extension), in the order knex ran them. A row without a file stops, as `knex migrate` does
 * ("the migration directory is corrupt").
 */
export const knex: ImportFormat = {
  tool: 'knex',
  summary: 'ledger only: a baseline for what its knex_migrations table (name, batch) records',
  storeKind: 'pg',
  defaultFrom: 'migrations',
  kind: 'ledger-only',

  async readHistory(dir) {
    const files = (await readdir(dir)).filter(
      (file) => !file.startsWith('.') && !file.endsWith('.d.ts') && EXTENSIONS.some((ext) => file.endsWith(ext)),
    )
    return { migrations: files.sort().map((file) => folderEntry(file, file)) } satisfies ForeignHistory
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<{ name: string }>(`select name from ${TABLE} order by id`)
    const known = new Set(history.migrations.map((migration) => migration.key))
    const missing = rows.find((row) => !known.has(row.name))
    if (missing) throw missingError('knex', TABLE, missing.name, 'the folder')
    return { table: TABLE, applied: rows.map((row) => row.name) }
  },
}
