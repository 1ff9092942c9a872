import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FluxError } from '@flux/core'
import type { ForeignMigration, ImportFormat, SqlClient } from '../import-format.ts'
import { missingError, needsNoTransaction, tableExists } from '../sql-text.ts'
import { slug } from './golang-migrate.ts'

const TABLE = 'sqitch.changes'

interface PlannedChange {
  name: string
  plannedAt: string
  /** The tag that follows this change in the plan, if the change is reworked later: its scripts are `<name>@<tag>.sql`. */
  suffix?: string
}

/**
 * sqitch: `sqitch.plan` lists the changes in order (`%project=` names the project), each with
 * `deploy/<change>.sql` and `revert/<change>.sql`; a change reworked after a tag keeps its earlier
 * scripts as `<change>@<tag>.sql`. Its registry, the `sqitch` schema, has a row per deployed change
 * in `sqitch.changes` (a reverted change's row is deleted); a failed deploy is reverted by sqitch
 * itself, so there is no dirty state. Changes are matched by name and planned time.
 */
export const sqitch: ImportFormat = {
  tool: 'sqitch',
  summary: 'sqitch.plan, deploy/ and revert/; its sqitch.changes table',
  storeKind: 'pg',
  defaultFrom: '.',

  async readHistory(dir) {
    const planFile = join(dir, 'sqitch.plan')
    let plan: string
    try {
      plan = await readFile(planFile, 'utf8')
    } catch {
      throw new FluxError('USAGE', `${planFile} could not be read`, {
        file: planFile,
        hint: 'pass --from <the folder holding sqitch.plan, deploy/ and revert/>',
      })
    }
    const changes = plannedChanges(plan)
    const width = Math.max(4, String(changes.length).length)
    const migrations: ForeignMigration[] = []
    for (const [index, change] of changes.entries()) {
      const file = `${change.name}${change.suffix === undefined ? '' : `@${change.suffix}`}.sql`
      let up: string
      try {
        up = await readFile(join(dir, 'deploy', file), 'utf8')
      } catch {
        throw new FluxError('MIGRATION_INVALID', `sqitch.plan lists ${change.name}, but deploy/${file} is missing`, {
          file: join(dir, 'deploy', file),
          hint: 'sqitch refuses this project too: restore the script, or remove the change from sqitch.plan',
        })
      }
      const down = await readFile(join(dir, 'revert', file), 'utf8').catch(() => undefined)
      const reason = needsNoTransaction(up) ?? (down === undefined ? undefined : needsNoTransaction(down))
      migrations.push({
        key: keyOf(change.name, Date.parse(change.plannedAt)),
        name: `${String(index + 1).padStart(width, '0')}_${slug(change.name)}`,
        sources: [`deploy/${file}`, ...(down === undefined ? [] : [`revert/${file}`])],
        up,
        ...(down === undefined ? {} : { down }),
        transaction: reason === undefined,
        ...(reason === undefined ? {} : { transactionReason: reason }),
      })
    }
    const project = /^%project=(\S+)/m.exec(plan)?.[1] ?? ''
    return { migrations, ledger: { project } }
  },

  async readApplied(client, history) {
    const sql = client as SqlClient
    if (!(await tableExists(sql, TABLE))) return undefined
    const project = history.ledger?.project ?? ''
    const { rows } = await sql.query<{ change: string; planned_at: Date }>(
      `select change, planned_at from ${TABLE} where project = $1 order by committed_at`,
      [project],
    )
    const keys = new Set(history.migrations.map((migration) => migration.key))
    const applied: string[] = []
    for (const row of rows) {
      const key = keyOf(row.change, row.planned_at.getTime())
      if (!keys.has(key)) {
        throw missingError(
          'sqitch',
          TABLE,
          `${row.change} (planned ${row.planned_at.toISOString()})`,
          'sqitch.plan',
          'change',
        )
      }
      applied.push(key)
    }
    return { table: TABLE, applied }
  },
}

function keyOf(change: string, plannedAt: number): string {
  return `${change}@${plannedAt}`
}

/** The changes of a plan, in order, with the suffix of a reworked change's earlier scripts. */
function plannedChanges(plan: string): PlannedChange[] {
  const entries: ({ tag: string } | PlannedChange)[] = []
  for (const raw of plan.split(/\r?\n/)) {
    const line = raw.replace(/\s+#.*$/, '').trim()
    if (line === '' || line.startsWith('#') || line.startsWith('%')) continue
    if (line.startsWith('@')) entries.push({ tag: line.slice(1).split(/\s+/)[0]! })
    else {
      const name = line.split(/\s+/)[0]!.replace(/^[-+]/, '')
      const plannedAt = /\s(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)\s/.exec(` ${line} `)?.[1] ?? ''
      entries.push({ name, plannedAt })
    }
  }
  const changes: PlannedChange[] = []
  for (const [index, entry] of entries.entries()) {
    if ('tag' in entry) continue
    const later = entries.slice(index + 1)
    // reworked later: this version's scripts carry the name of the first tag after it
    if (later.some((other) => 'name' in other && other.name === entry.name)) {
      const tag = later.find((other) => 'tag' in other) as { tag: string } | undefined
      if (tag) entry.suffix = tag.tag
    }
    changes.push(entry)
  }
  return changes
}
