import { mkdir, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { FluxError, headsByComponent, writeSum } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { migrationFileName } from '../migration-file.ts'
import { openProject } from '../project.ts'

export const usage = 'flux new <name> [--store <store>]'
export const description = `Writes migrations/<UTC timestamp>_<name>.ts for the given store, with the current
head(s) of the migrations folder as its parents, and updates flux.sum. Creates the
migrations folder the config names if it does not exist yet.`
export const maxPositionals = 1
export const options = {
  store: { type: 'string', value: 'store', description: 'the store it changes (needed when the config has several)' },
} as const
export const examples = ['flux new add-photos', 'flux new backfill-thumbnails --store photos']

/** Type of `ctx.store` per kind of store, for the template. */
const CLIENT_TYPES: Record<string, { from: string; type: string }> = {
  fs: { from: '@flux/fs', type: 'FsClient' },
}

export async function run({ positionals, values, configFile, output }: CommandInput): Promise<number> {
  const [rawName] = positionals
  if (!rawName)
    throw new FluxError('USAGE', 'name the migration: `flux new <name>`', { hint: 'e.g. `flux new add-photos`' })
  const slug = rawName
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
  if (!slug) throw new FluxError('USAGE', `"${rawName}" has no letters or digits to name a file with`)
  // the application's folder may not exist yet: the first migration creates it
  const project = await openProject(configFile, { allowMissingMigrations: true })
  const storeNames = Object.keys(project.adapters)
  const store = typeof values.store === 'string' ? values.store : storeNames.length === 1 ? storeNames[0] : undefined
  if (store === undefined || !project.adapters[store]) {
    throw new FluxError(
      'USAGE',
      store === undefined ? 'say which store the migration changes' : `unknown store "${store}"`,
      {
        hint: `pass --store with one of: ${storeNames.join(', ') || '(none: add a store to the config first)'}`,
      },
    )
  }
  const component = project.components[0]!
  const heads = headsByComponent(project.graph.nodes).get(component.name) ?? []
  const name = migrationFileName(slug, project.graph.nodes)
  const file = join(component.dir, `${name}.ts`)
  const client = CLIENT_TYPES[project.adapters[store]!.kind]
  const parents = heads.length > 0 ? `\n  parents: [${heads.map((head) => `'${head.name}'`).join(', ')}],` : ''
  if (await mkdir(component.dir, { recursive: true }))
    output.line(`created ${relative(process.cwd(), component.dir)}${sep}`)
  await writeFile(
    file,
    `import { defineMigration } from '@flux/core'
${client ? `import type { ${client.type} } from '${client.from}'\n` : ''}
export default defineMigration${client ? `<${client.type}>` : ''}({
  store: '${store}',${parents}
  async up({ store }) {
    // change the store here
  },
  async down({ store }) {
    // undo up() here
  },
})
`,
    { flag: 'wx' },
  )
  await writeSum(component.dir, project.loaders.keys())
  output.line(`created ${relative(process.cwd(), file)}`)
  return 0
}
