import { readdir } from 'node:fs/promises'
import { folderEntry } from '../baseline.ts'
import type { ForeignHistory, ImportFormat, SqlClient } from '../import-format.ts'
import { missingError, tableExists } from '../sql-text.ts'

/** Its `SequelizeStorage`'s default table (sequelize-cli's too), case kept by the quotes. */
const TABLE = '"SequelizeMeta"'

/**
 * umzug with its `SequelizeStorage` (and sequelize-cli, which uses it): the migrations are
 * code, so flux writes a baseline that stands for those the `SequelizeMeta (name)` table
 * records. `name` is the file name with its extension, as umzug's glob resolver names them.
 * A row without a file stops, as umzug does ("Couldn't find migration").
 */
export const umzug: ImportFormat = {
  tool: 'umzug',
  summary: 'ledger only: a baseline for what its SequelizeStorage table "SequelizeMeta" (name) records',
  storeKind: 'pg',
  defaultFrom: 'migrations',
  kind: 'ledger-only',

  async readHistory(dir) {
    const files = (await readdir(dir)).filter(
      (file) => !file.startsWith('.') && !file.endsWith('.d.ts') && /\.(c|m)?(j|t)s$|\.sql$/.test(file),
    )
    return { migrations: files.sort().map((file) => folderEntry(file, file)) } satisfies ForeignHistory
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    // the table keeps no order: umzug runs its files in name order, and so they are listed
    const { rows } = await sql.query<{ name: string }>(`select name from ${TABLE} order by name`)
    const known = new Set(history.migrations.map((migration) => migration.key))
    const missing = rows.find((row) => !known.has(row.name))
    if (missing) throw missingError('umzug', 'SequelizeMeta', missing.name, 'the folder')
    return { table: 'SequelizeMeta', applied: rows.map((row) => row.name) }
  },
}
