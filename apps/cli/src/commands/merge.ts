import { writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { FluxError, headsByComponent, writeSum } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { migrationFileName } from '../migration-file.ts'
import { openProject } from '../project.ts'

export const usage = 'flux merge [component] [--store <store>]'
export const description = `Writes a migration that joins the heads of a component (default: the application's
own), with every head as a parent and nothing to do itself, so the component has one head
again. Its store is the first head's unless --store says otherwise.`
export const maxPositionals = 1
export const options = {
  store: { type: 'string', value: 'store', description: 'the store the merge migration is recorded in' },
} as const

export async function run({ positionals, values, configFile, output }: CommandInput): Promise<number> {
  const project = await openProject(configFile, { unsetStoresAllowed: true })
  const app = project.components[0]!
  const name = positionals[0] ?? app.name
  if (name !== app.name) {
    throw new FluxError(
      'USAGE',
      `flux merge writes into the application's own migrations (${app.name}), not into ${name}`,
      {
        hint: `merge ${name}'s heads in that package's own repository`,
      },
    )
  }
  const heads = headsByComponent(project.graph.nodes).get(name) ?? []
  if (heads.length < 2) {
    output.line(`${name} has ${heads.length} head${heads.length === 1 ? '' : 's'}: nothing to merge`)
    return 0
  }
  const store = typeof values.store === 'string' ? values.store : heads[0]!.store
  if (!project.adapters[store]) throw new FluxError('USAGE', `unknown store "${store}"`)
  const fileName = migrationFileName('merge-heads', project.graph.nodes)
  const file = join(app.dir, `${fileName}.ts`)
  await writeFile(
    file,
    `import { defineMigration } from '@flux/core'

// joins ${heads.map((head) => head.name).join(' and ')}
export default defineMigration({
  store: '${store}',
  parents: [${heads.map((head) => `'${head.name}'`).join(', ')}],
  up() {},
  down() {},
})
`,
    { flag: 'wx' },
  )
  await writeSum(app.dir, project.loaders.keys())
  output.line(`created ${relative(process.cwd(), file)}, merging ${heads.map((head) => head.id).join(', ')}`)
  return 0
}
