import { headsByComponent } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux heads [--json]'
export const description = `Lists the heads of every component: the migrations nothing else in the component
follows. One head is a straight history; several are branches, to join with \`flux merge\`.`
export const maxPositionals = 0
export const options = {} as const

export async function run({ configFile, output, json }: CommandInput): Promise<number> {
  const project = await openProject(configFile, { unsetStoresAllowed: true })
  const heads = headsByComponent(project.graph.nodes)
  if (json) {
    output.printJson({
      components: [...heads].map(([component, nodes]) => ({ component, heads: nodes.map((node) => node.id) })),
    })
    return 0
  }
  if (heads.size === 0) output.line('no migrations yet')
  for (const [component, nodes] of heads) {
    const branches =
      nodes.length > 1 ? output.paint.yellow(` (${nodes.length} heads: \`flux merge ${component}\` joins them)`) : ''
    output.line(`${output.paint.bold(component)}${branches}`)
    for (const node of nodes) output.line(`  ${node.id}  ${output.paint.dim(node.store)}`)
  }
  return 0
}
