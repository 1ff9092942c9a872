import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ForeignMigration, ImportFormat, SqlClient } from '../import-format.ts'
import { missingError, needsNoTransaction, tableExists } from '../sql-text.ts'

const TABLE = '__diesel_schema_migrations'

/**
 * diesel: `migrations/<version>_<name>/up.sql` + `down.sql`, the version being the folder name up
 * to its first `_` less its dashes (`2019-02-26-002946_create_user` is `20190226002946`), applied
 * in version order. An optional `metadata.toml` says `run_in_transaction = false` (a
 * `metadata.toml` without that key means false too: diesel's own default for a present file).
 * Its ledger `__diesel_schema_migrations (version, run_on)` has a row per applied migration;
 * each migration and its row are committed together, so there is no dirty state.
 */
export const diesel: ImportFormat = {
  tool: 'diesel',
  summary: '<version>_<name>/up.sql + down.sql (+ metadata.toml); its __diesel_schema_migrations table',
  storeKind: 'pg',
  defaultFrom: 'migrations',

  async readHistory(dir) {
    const folders = (await readdir(dir, { withFileTypes: true })).filter(
      (entry) => entry.isDirectory() && !entry.name.startsWith('.'),
    )
    const found: (ForeignMigration & { version: string })[] = []
    const skipped: { file: string; reason: string }[] = []
    for (const { name } of folders) {
      const up = await readText(join(dir, name, 'up.sql'))
      if (up === undefined) {
        skipped.push({ file: name, reason: 'a folder without up.sql' })
        continue
      }
      const down = await readText(join(dir, name, 'down.sql'))
      const metadata = await readText(join(dir, name, 'metadata.toml'))
      const transaction = metadata === undefined ? true : runInTransaction(metadata)
      const reason = transaction
        ? (needsNoTransaction(up) ?? (down === undefined ? undefined : needsNoTransaction(down)))
        : 'metadata.toml: run_in_transaction = false'
      const version = name.split('_')[0]!.replaceAll('-', '')
      found.push({
        version,
        key: version,
        name,
        sources: [`${name}/up.sql`, ...(down === undefined ? [] : [`${name}/down.sql`])],
        up,
        ...(down === undefined ? {} : { down }),
        transaction: reason === undefined,
        ...(reason === undefined ? {} : { transactionReason: reason }),
      })
    }
    found.sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0))
    const migrations = found.map(({ version: _version, ...migration }) => migration)
    return { migrations, skipped }
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<{ version: string }>(`select version from ${TABLE} order by version`)
    const keys = new Set(history.migrations.map((migration) => migration.key))
    for (const { version } of rows)
      if (!keys.has(version)) throw missingError('diesel', TABLE, `version ${version}`, 'the migrations folder')
    return { table: TABLE, applied: rows.map((row) => row.version) }
  },
}

/** `run_in_transaction` of a metadata.toml: false unless it says `true`, as diesel reads it. */
function runInTransaction(toml: string): boolean {
  return /^\s*run_in_transaction\s*=\s*true\s*(#.*)?$/m.test(toml)
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw error
  }
}
