import { readdir, readFile } from 'node:fs/promises'
import { basename, dirname, join, relative } from 'node:path'
import { folderEntry } from '../baseline.ts'
import type { ForeignHistory, ForeignMigration, ImportFormat, SqlClient } from '../import-format.ts'
import { tableExists } from '../sql-text.ts'

const TABLE = 'django_migrations'
/** Folders never searched for apps: dependencies, environments, caches. */
const NOT_APPS = new Set(['node_modules', '.git', 'venv', '.venv', 'env', 'site-packages', '__pycache__', '.tox'])
/** A squashed migration: `replaces = [('app', '0001_initial'), …]`. */
const REPLACES = /^\s*replaces\s*=\s*\[([\s\S]*?)\]/m

/**
 * Django: its migrations are Python, so flux writes a baseline that stands for what
 * `django_migrations (app, name, applied)` records. The folder (`--from`, default the project's
 * root, where manage.py is) is searched for apps' `<app>/migrations/*.py`; a migration is
 * `<app label>.<name>`, the app label being its folder's name. Rows of apps that are not in the
 * folder (Django's own: auth, admin, contenttypes, sessions; installed packages) are applied
 * migrations too: the baseline lists them. A squashed migration counts as applied when every
 * migration it replaces is, as Django decides.
 */
export const django: ImportFormat = {
  tool: 'django',
  summary: 'ledger only: a baseline for what its django_migrations table (app, name) records',
  storeKind: 'pg',
  defaultFrom: '.',
  kind: 'ledger-only',

  async readHistory(dir) {
    const migrations: ForeignMigration[] = []
    const replaces: Record<string, string> = {}
    for (const folder of await migrationFolders(dir, 0)) {
      const app = basename(dirname(folder))
      for (const file of (await readdir(folder)).sort()) {
        if (!file.endsWith('.py') || /^[_~.]/.test(file)) continue
        const key = `${app}.${file.slice(0, -3)}`
        const text = await readFile(join(folder, file), 'utf8')
        const replaced = REPLACES.exec(text)?.[1]
        if (replaced) {
          replaces[key] = [...replaced.matchAll(/\(\s*['"]([^'"]+)['"]\s*,\s*['"]([^'"]+)['"]\s*\)/g)]
            .map((match) => `${match[1]}.${match[2]}`)
            .join(' ')
        }
        migrations.push(folderEntry(key, relative(dir, join(folder, file))))
      }
    }
    return { migrations, ledger: replaces } satisfies ForeignHistory
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const { rows } = await sql.query<{ app: string; name: string }>(
      `select app, name from ${TABLE} order by applied, id`,
    )
    const applied = rows.map((row) => `${row.app}.${row.name}`)
    const done = new Set(applied)
    for (const [squashed, replaced] of Object.entries(history.ledger ?? {})) {
      if (!done.has(squashed) && replaced.split(' ').every((key) => done.has(key))) applied.push(squashed)
    }
    return { table: TABLE, applied }
  },
}

/** The `migrations` folders of the apps under `dir` (a few levels deep, as Django projects nest apps). */
async function migrationFolders(dir: string, depth: number): Promise<string[]> {
  if (depth > 4) return []
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
  const found: string[] = []
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (!entry.isDirectory() || NOT_APPS.has(entry.name) || entry.name.startsWith('.')) continue
    const path = join(dir, entry.name)
    // a migrations package: Django reads only folders with an __init__.py
    if (entry.name === 'migrations' && depth > 0 && (await isPackage(path))) found.push(path)
    else found.push(...(await migrationFolders(path, depth + 1)))
  }
  return found
}

async function isPackage(dir: string): Promise<boolean> {
  return (await readdir(dir).catch(() => [] as string[])).includes('__init__.py')
}
