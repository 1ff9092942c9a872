import { relative } from 'node:path'
import { writeSum } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux sum'
export const description = `Writes flux.sum in every migrations folder: one line per migration file with its
checksum, and a total. Commit it with the migrations: \`flux verify\` fails when a folder
no longer matches its sum, and two branches that each add a migration conflict on it in git.`
export const maxPositionals = 0
export const options = {} as const

export async function run({ configFile, output }: CommandInput): Promise<number> {
  const project = await openProject(configFile)
  for (const component of project.components) {
    const file = await writeSum(component.dir, project.loaders.keys())
    output.line(
      `wrote ${relative(process.cwd(), file)} (${project.graph.nodes.filter((node) => node.component === component.name).length} migrations)`,
    )
  }
  return 0
}
