import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FluxError } from '@flux/core'
import type { ForeignHistory, ForeignMigration, ImportFormat, SqlClient } from '../import-format.ts'
import { dirtyError, missingError, needsNoTransaction, tableExists } from '../sql-text.ts'

/** golang-migrate's file name: its own parser's pattern (`source/parse.go`). */
const FILE = /^([0-9]+)_(.*)\.(down|up)\.(.*)$/
const TABLE = 'schema_migrations'

/**
 * golang-migrate: `<version>_<name>.up.sql` and `.down.sql`, in version order; its ledger
 * `schema_migrations (version bigint, dirty boolean)` holds one row, the LAST version applied:
 * every version up to it is applied. golang-migrate wraps no transaction around a file.
 */
export const golangMigrate: ImportFormat = {
  tool: 'golang-migrate',
  summary: '<version>_<name>.up.sql / .down.sql; its schema_migrations table (version, dirty)',
  storeKind: 'pg',
  defaultFrom: 'migrations',

  async readHistory(dir) {
    const byVersion = new Map<bigint, { name: string; up?: string; down?: string }>()
    const skipped: { file: string; reason: string }[] = []
    for (const file of (await readdir(dir)).sort()) {
      const match = FILE.exec(file)
      if (!match) {
        if (file.endsWith('.sql'))
          skipped.push({ file, reason: 'not <version>_<name>.up|down.<ext>: golang-migrate skips it too' })
        continue
      }
      const version = BigInt(match[1]!)
      const direction = match[3] as 'up' | 'down'
      const entry = byVersion.get(version) ?? { name: match[2]! }
      if (entry[direction] !== undefined) {
        throw new FluxError('MIGRATION_INVALID', `${dir} has two ${direction} files for version ${version}`, {
          file: join(dir, file),
          hint: 'golang-migrate refuses this folder too: keep one file per version and direction',
        })
      }
      entry[direction] = file
      byVersion.set(version, entry)
    }
    const versions = [...byVersion.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    const width = Math.max(4, ...versions.map((version) => String(version).length))
    const migrations: ForeignMigration[] = []
    for (const version of versions) {
      const entry = byVersion.get(version)!
      if (entry.up === undefined) {
        skipped.push({ file: entry.down!, reason: 'a down file without its up file' })
        continue
      }
      const up = await readFile(join(dir, entry.up), 'utf8')
      // golang-migrate reverts a migration without a down file by doing nothing: so does its flux file
      const down =
        entry.down === undefined
          ? `-- ${entry.up} has no .down.sql: \`migrate down\` reverts it by doing nothing, and so does flux\n`
          : await readFile(join(dir, entry.down), 'utf8')
      const reason = needsNoTransaction(up) ?? needsNoTransaction(down)
      migrations.push({
        key: String(version),
        name: `${String(version).padStart(width, '0')}_${slug(entry.name)}`,
        sources: entry.down === undefined ? [entry.up] : [entry.up, entry.down],
        up,
        down,
        transaction: reason === undefined,
        ...(reason === undefined ? {} : { transactionReason: reason }),
      })
    }
    return { migrations, skipped } satisfies ForeignHistory
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<{ version: string; dirty: boolean }>(
      `select version::text as version, dirty from ${TABLE}`,
    )
    const row = rows[0]
    if (!row) return { table: TABLE, applied: [] }
    const index = history.migrations.findIndex((migration) => migration.key === row.version)
    const label =
      index === -1 ? `version ${row.version}` : `version ${row.version} (${history.migrations[index]!.sources[0]})`
    if (row.dirty) {
      throw dirtyError(
        'golang-migrate',
        TABLE,
        label,
        'is dirty (it failed midway)',
        `finish or undo its changes by hand, then \`migrate force ${row.version}\` (its changes are all there) or \`migrate force <the version before>\` (none are)`,
      )
    }
    if (index === -1) throw missingError('golang-migrate', TABLE, label, 'the folder')
    return { table: TABLE, applied: history.migrations.slice(0, index + 1).map((migration) => migration.key) }
  },
}

/** A name part fit for a file name and an id: what golang-migrate allowed, less spaces and odd characters. */
export function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]+/g, '-').replace(/^-+|-+$/g, '') || 'migration'
}
