import { FluxError, previewPlan, readStatus, toDot, toMermaid } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux graph [--format mermaid|dot] [--status] [--down <target>]'
export const description = `Prints the migration graph of every component and store: one box per migration
(its name and store), an arrow per parent, a dashed arrow per \`after\`, and a dotted "uses" arrow
to each other store a migration \`uses\`, drawn as a node of its own. Mermaid renders
where pull requests do; dot is for Graphviz. --status adds each migration's status (reads
the ledgers). --down <target> marks what \`flux down <target>\` would revert.`
export const maxPositionals = 0
export const options = {
  format: { type: 'string', value: 'mermaid|dot', description: 'output format (default: mermaid)' },
  status: { type: 'boolean', description: "show each migration's status in its box" },
  down: { type: 'string', value: 'target', description: 'mark the migrations `flux down <target>` would revert' },
} as const
export const examples = [
  'flux graph > graph.mmd',
  'flux graph --format dot | dot -Tsvg > graph.svg',
  'flux graph --down @travel/images@base',
]

export async function run({ values, configFile }: CommandInput): Promise<number> {
  const format = typeof values.format === 'string' ? values.format : 'mermaid'
  if (format !== 'mermaid' && format !== 'dot') {
    throw new FluxError('USAGE', `unknown format "${format}"`, { hint: 'use --format mermaid or --format dot' })
  }
  // the graph alone needs no store: only --status and --down read the ledgers
  const readsLedgers = values.status === true || typeof values.down === 'string'
  const project = await openProject(configFile, { unsetStoresAllowed: !readsLedgers })
  const statuses = new Map<string, string>()
  if (values.status === true) for (const row of (await readStatus(project)).migrations) statuses.set(row.id, row.status)
  if (typeof values.down === 'string') {
    const plan = await previewPlan(project, { direction: 'down', target: values.down })
    for (const step of plan.steps) {
      const status = statuses.get(step.id)
      statuses.set(step.id, `${status ? `${status}, ` : ''}down reverts`)
    }
  }
  process.stdout.write(format === 'dot' ? toDot(project.graph, statuses) : toMermaid(project.graph, statuses))
  return 0
}
