import { readStatus, revisionRange } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { formatDuration } from '../format.ts'
import { openProject } from '../project.ts'

export const usage = 'flux history [component | range] [--json]'
export const description = `Lists applied migrations in the order they were applied, across every store, read
from the stores' own ledgers: when, how long, and by which run.
A range, as Alembic's \`history -r\`: \`a:b\` (from a to b, both included), \`:b\` (from base to b),
\`a:\` (from a to the heads); each end is a target (\`flux up --help\` lists the forms).`
export const maxPositionals = 1
export const options = {} as const
export const examples = [
  'flux history',
  'flux history @travel/images',
  'flux history app/20261121:',
  'flux history :app@-1',
]

export async function run({ positionals, configFile, output, json }: CommandInput): Promise<number> {
  const project = await openProject(configFile)
  const argument = positionals[0]
  const range = argument?.includes(':') ? argument : undefined
  const component = range ? undefined : argument
  const status = (await readStatus(project)).migrations
  const applied = new Set(status.filter((row) => row.status === 'applied').map((row) => row.id))
  const inRange = range ? revisionRange(project.graph.nodes, range, applied) : undefined
  const rows = status
    .filter((row) => row.appliedAt && row.status !== 'pending' && (!component || row.component === component))
    .filter((row) => !inRange || inRange.has(row.id))
    .sort((a, b) => (a.appliedAt! < b.appliedAt! ? -1 : a.appliedAt! > b.appliedAt! ? 1 : 0))
  if (json) {
    output.printJson({ migrations: rows })
    return 0
  }
  if (rows.length === 0) {
    output.line(
      range
        ? `nothing in ${range} is applied`
        : component
          ? `nothing of ${component} is applied`
          : 'nothing is applied yet',
    )
  }
  for (const row of rows) {
    const when = row.appliedAt!.replace('T', ' ').slice(0, 19)
    const note = row.status === 'applied' ? '' : ` ${output.paint.red(row.status)}`
    output.line(
      `${output.paint.dim(when)}  ${row.id}  ${output.paint.dim(`${row.store}, ${formatDuration(row.durationMs ?? 0)}, run ${row.runId?.slice(0, 8)}`)}${note}`,
    )
  }
  return 0
}
