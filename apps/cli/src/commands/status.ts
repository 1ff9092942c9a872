import { readStatus } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { countBy, formatHolder, statusLabel } from '../format.ts'
import { openProject } from '../project.ts'

export const usage = 'flux status [--json]'
export const description = `Shows where every migration stands in every store: applied, pending, dirty (started
and never finished), drift (changed after it was applied), missing (applied, file gone).
Reads each store's ledger once and takes no lease.`
export const maxPositionals = 0
export const options = {} as const

export async function run({ configFile, output, json }: CommandInput): Promise<number> {
  const project = await openProject(configFile)
  const status = await readStatus(project)
  if (json) {
    output.printJson(status)
    return 0
  }
  for (const store of status.stores) {
    const rows = status.migrations.filter((row) => row.store === store.name)
    output.line(`${output.paint.bold(store.name)} ${output.paint.dim(store.target)}`)
    if (rows.length === 0) output.line(output.paint.dim('  no migrations'))
    for (const row of rows) {
      const when = row.appliedAt ? output.paint.dim(`  ${row.appliedAt.replace('T', ' ').slice(0, 19)}`) : ''
      output.line(`  ${statusLabel(output, row)} ${row.id}${when}`)
    }
    if (store.leasedBy) {
      output.line(
        output.paint.yellow(`  leased by ${formatHolder(store.leasedBy)}: a dirty migration may still be running`),
      )
    }
  }
  const total = status.migrations.length
  output.line(
    total === 0
      ? 'no migrations yet: `flux new <name>` writes one'
      : `${total} migrations: ${countBy(status.migrations.map((row) => (row.changed ? 'changed' : row.status)))}`,
  )
  return 0
}
