import { mkdir, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { FluxError, headsByComponent, type MigrationNode, resolveTarget, writeSum } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { migrationFileName } from '../migration-file.ts'
import { openProject } from '../project.ts'

export const usage = 'flux new <name> [--store <store>] [--head <id>] [--after <ids>]'
export const description = `Writes migrations/<UTC timestamp>_<name>.ts for the given store, with the current
head of the migrations folder as its parent, and updates flux.sum. Creates the
migrations folder the config names if it does not exist yet.
With several heads it refuses and names them: join them with \`flux merge\`, or say which
to build on with --head (which also starts a branch from a migration that is not a head).
--after adds dependencies on other components' migrations (comma-separated targets).`
export const maxPositionals = 1
export const options = {
  store: { type: 'string', value: 'store', description: 'the store it changes (needed when the config has several)' },
  head: { type: 'string', value: 'id', description: 'the parent: a head, or a migration to branch from' },
  after: { type: 'string', value: 'ids', description: "other components' migrations it runs after" },
} as const
export const examples = [
  'flux new add-photos',
  'flux new backfill-thumbnails --store photos',
  'flux new hotfix --head app/20261121093000_add-photos',
  'flux new gallery --after @travel/images/001_layout',
]

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
  const nodes = project.graph.nodes
  const heads = parentsOf(nodes, component.name, values.head)
  const after = typeof values.after === 'string' ? afterOf(nodes, component.name, values.after) : []
  const name = migrationFileName(slug, project.graph.nodes)
  const file = join(component.dir, `${name}.ts`)
  const client = CLIENT_TYPES[project.adapters[store]!.kind]
  const parents =
    (heads.length > 0 ? `\n  parents: [${heads.map((head) => `'${head.name}'`).join(', ')}],` : '') +
    (after.length > 0 ? `\n  after: [${after.map((id) => `'${id}'`).join(', ')}],` : '')
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

/** The new migration's parent: the one head, or `--head`; several heads without `--head` are refused. */
function parentsOf(nodes: readonly MigrationNode[], component: string, head: string | boolean | undefined) {
  const own = nodes.filter((node) => node.component === component)
  if (typeof head === 'string') {
    return [resolveTarget(own, head)]
  }
  const heads = headsByComponent(nodes).get(component) ?? []
  if (heads.length > 1) {
    const ids = heads.map((node) => node.id).sort()
    throw new FluxError(
      'USAGE',
      `${component} has ${heads.length} heads (${ids.join(', ')}): say which the new migration builds on`,
      {
        hint: `join them first with \`flux merge\`, or pass \`--head <id>\` (e.g. \`--head ${ids[0]}\`)`,
        details: { heads: ids },
      },
    )
  }
  return heads
}

/** `--after a,b`: migrations of other components, as full ids. */
function afterOf(nodes: readonly MigrationNode[], component: string, list: string): string[] {
  return list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const node = resolveTarget(nodes, item)
      if (node.component === component) {
        throw new FluxError('USAGE', `--after ${item}: ${node.id} is in the same component`, {
          hint: 'a migration of the same component is a parent: use --head',
        })
      }
      return node.id
    })
}
