import { readdir } from 'node:fs/promises'
import { folderEntry } from '../baseline.ts'
import type { ForeignHistory, ImportFormat, SqlClient } from '../import-format.ts'
import { missingError, tableExists } from '../sql-text.ts'

const TABLE = 'pgmigrations'

/**
 * node-pg-migrate: its migrations are JavaScript, TypeScript or SQL run by its own runner, so
 * flux writes a baseline that stands for those `pgmigrations (id, name, run_on)` records. `name`
 * is the file name without its extension (and without `.up`/`.down` for SQL files), as its
 * loader names them. A row without a file stops, as `node-pg-migrate up` does.
 */
export const nodePgMigrate: ImportFormat = {
  tool: 'node-pg-migrate',
  summary: 'ledger only: a baseline for what its pgmigrations table (name, run_on) records',
  storeKind: 'pg',
  defaultFrom: 'migrations',
  kind: 'ledger-only',

  async readHistory(dir) {
    const byName = new Map<string, string>()
    for (const file of (await readdir(dir)).sort()) {
      // its default ignore pattern skips dot files; `.d.ts` files are no migrations
      if (file.startsWith('.') || file.endsWith('.d.ts') || !/\.(c|m)?(j|t)s$|\.sql$/.test(file)) continue
      const name = file.replace(/\.[^.]+$/, '').replace(/\.(up|down)$/, '')
      if (!byName.has(name)) byName.set(name, file)
    }
    return { migrations: [...byName].map(([name, file]) => folderEntry(name, file)) } satisfies ForeignHistory
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<{ name: string }>(`select name from ${TABLE} order by run_on, id`)
    const known = new Set(history.migrations.map((migration) => migration.key))
    const missing = rows.find((row) => !known.has(row.name))
    if (missing) throw missingError('node-pg-migrate', TABLE, missing.name, 'the folder')
    return { table: TABLE, applied: rows.map((row) => row.name) }
  },
}
