import { readStatus } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { formatDuration } from '../format.ts'
import { openProject } from '../project.ts'

export const usage = 'flux history [component] [--json]'
export const description = `Lists applied migrations in the order they were applied, across every store, read
from the stores' own ledgers: when, how long, and by which run.`
export const maxPositionals = 1
export const options = {} as const

export async function run({ positionals, configFile, output, json }: CommandInput): Promise<number> {
  const project = await openProject(configFile)
  const component = positionals[0]
  const rows = (await readStatus(project)).migrations
    .filter((row) => row.appliedAt && row.status !== 'pending' && (!component || row.component === component))
    .sort((a, b) => (a.appliedAt! < b.appliedAt! ? -1 : a.appliedAt! > b.appliedAt! ? 1 : 0))
  if (json) {
    output.printJson({ migrations: rows })
    return 0
  }
  if (rows.length === 0) output.line(component ? `nothing of ${component} is applied` : 'nothing is applied yet')
  for (const row of rows) {
    const when = row.appliedAt!.replace('T', ' ').slice(0, 19)
    const note = row.status === 'applied' ? '' : ` ${output.paint.red(row.status)}`
    output.line(
      `${output.paint.dim(when)}  ${row.id}  ${output.paint.dim(`${row.store}, ${formatDuration(row.durationMs ?? 0)}, run ${row.runId?.slice(0, 8)}`)}${note}`,
    )
  }
  return 0
}
