import { relative } from 'node:path'
import { isInstalledPackageDir, writeSum } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { openProject } from '../project.ts'

export const usage = 'flux sum'
export const description = `Writes flux.sum in every migrations folder: one line per migration file with its
checksum, and a total. Commit it with the migrations: \`flux verify\` fails when a folder
no longer matches its sum, and two branches that each add a migration conflict on it in git.
Folders of installed packages (in node_modules) are skipped: their flux.sum ships with the
package. Workspace packages, linked into node_modules from elsewhere, get theirs written.`
export const maxPositionals = 0
export const options = {} as const

export async function run({ configFile, output, json }: CommandInput): Promise<number> {
  const project = await openProject(configFile, { unsetStoresAllowed: true })
  const written: { component: string; file: string; migrations: number }[] = []
  const skipped: { component: string; folder: string }[] = []
  for (const component of project.components) {
    const folder = relative(process.cwd(), component.dir) || '.'
    if (await isInstalledPackageDir(component.dir)) {
      skipped.push({ component: component.name, folder })
      if (!json) output.line(`skipped ${folder}: ${component.name} is an installed package (in node_modules)`)
      continue
    }
    const file = relative(process.cwd(), await writeSum(component.dir, project.loaders.keys()))
    const migrations = project.graph.nodes.filter((node) => node.component === component.name).length
    written.push({ component: component.name, file, migrations })
    if (!json) output.line(`wrote ${file} (${migrations} ${migrations === 1 ? 'migration' : 'migrations'})`)
  }
  if (json) output.printJson({ written, skipped })
  return 0
}
