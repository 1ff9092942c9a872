import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FluxError } from '@flux/core'
import { folderEntry } from '../baseline.ts'
import type { ForeignHistory, ForeignMigration, ImportFormat, SqlClient } from '../import-format.ts'
import { missingError, tableExists } from '../sql-text.ts'

const TABLE = 'alembic_version'
/** `revision = 'ae1027a6acf'`, or with a type as newer templates write it: `revision: str = '…'`. */
const REVISION = /^revision\s*(?::[^=\n]*)?=\s*['"]([^'"]+)['"]/m
/** `down_revision = None`, `= '…'`, or a merge's tuple `= ('…', '…')`. */
const DOWN_REVISION = /^down_revision\s*(?::[^=\n]*)?=\s*(.+)$/m

/**
 * Alembic: its revisions are Python, so flux writes a baseline that stands for those applied.
 * `alembic_version (version_num)` holds only the current head(s); the revision files of the
 * folder (`revision`, `down_revision`) give their ancestors, which are applied too, as
 * `alembic upgrade` and `alembic stamp` mean it. A head without a file stops.
 */
export const alembic: ImportFormat = {
  tool: 'alembic',
  summary:
    "ledger only: a baseline for the head(s) in alembic_version and their ancestors in its versions folder's graph",
  storeKind: 'pg',
  defaultFrom: 'alembic/versions',
  kind: 'ledger-only',

  async readHistory(dir) {
    const migrations: ForeignMigration[] = []
    const parents: Record<string, string> = {}
    const skipped: { file: string; reason: string }[] = []
    for (const file of (await readdir(dir)).sort()) {
      if (!file.endsWith('.py') || file.startsWith('_') || file.startsWith('.')) continue
      const text = await readFile(join(dir, file), 'utf8')
      const revision = REVISION.exec(text)?.[1]
      if (revision === undefined) {
        skipped.push({ file, reason: 'no `revision = ...` line: not an Alembic revision' })
        continue
      }
      if (migrations.some((migration) => migration.key === revision)) {
        throw new FluxError('MIGRATION_INVALID', `${dir} has two files for Alembic revision ${revision}`, {
          file: join(dir, file),
          hint: 'Alembic refuses this folder too: keep one file per revision',
        })
      }
      const down = DOWN_REVISION.exec(text)?.[1] ?? 'None'
      parents[revision] = [...down.matchAll(/['"]([^'"]+)['"]/g)].map((match) => match[1]!).join(' ')
      migrations.push(folderEntry(revision, file))
    }
    return { migrations, skipped, ledger: parents } satisfies ForeignHistory
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<{ version_num: string }>(`select version_num from ${TABLE} order by version_num`)
    const parents = history.ledger ?? {}
    const applied: string[] = []
    const seen = new Set<string>()
    // each head after its ancestors, oldest first: the order `alembic upgrade` ran them
    const visit = (revision: string, head: string) => {
      if (seen.has(revision)) return
      seen.add(revision)
      const file = history.migrations.find((migration) => migration.key === revision)
      if (!file) throw missingError('alembic', TABLE, `revision ${revision}`, 'the versions folder')
      for (const parent of (parents[revision] ?? '').split(' ').filter(Boolean)) visit(parent, head)
      applied.push(revision)
    }
    for (const row of rows) visit(row.version_num, row.version_num)
    return { table: TABLE, applied }
  },
}
