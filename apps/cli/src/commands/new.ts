import { mkdir, writeFile } from 'node:fs/promises'
import { join, relative, sep } from 'node:path'
import { createInterface } from 'node:readline/promises'
import { type Adapter, FluxError, headsByComponent, type MigrationNode, resolveTarget, writeSum } from '@flux/core'
import type { CommandInput } from '../command.ts'
import { migrationFileName } from '../migration-file.ts'
import type { Output } from '../output.ts'
import { openProject } from '../project.ts'

export const usage = 'flux new <name> [--store <store>] [--sql | --autogenerate] [--head <id>] [--after <ids>]'
export const description = `Writes migrations/<UTC timestamp>_<name>.ts for the given store, typed for its adapter
(the client a migration receives, with an example call), with the current head of the
migrations folder as its parent, and updates flux.sum. Creates the migrations folder the
config names if it does not exist yet. --sql writes an SQL migration (.sql) instead, for pg stores.
With several heads it refuses and names them: join them with \`flux merge\`, or say which
to build on with --head (which also starts a branch from a migration that is not a head).
--after adds dependencies on other components' migrations (comma-separated targets).
--autogenerate compares the store with the schema its config declares (pg and mongo: \`declared\`)
and writes the migration that would make it match (.sql for pg, .ts for mongo), with its down,
for you to review: it applies nothing, and writes no file when there is nothing to generate. On a
terminal it asks whether a dropped and an added column (or table) were a rename; elsewhere it
writes a drop and an add, and a note.`
export const maxPositionals = 1
export const options = {
  store: { type: 'string', value: 'store', description: 'the store it changes (needed when the config has several)' },
  sql: { type: 'boolean', description: 'write an SQL migration (pg stores): <timestamp>_<name>.sql' },
  autogenerate: {
    type: 'boolean',
    description: 'write what the store lacks of its declared schema (pg, mongo: `declared`)',
  },
  head: { type: 'string', value: 'id', description: 'the parent: a head, or a migration to branch from' },
  after: { type: 'string', value: 'ids', description: "other components' migrations it runs after" },
} as const
export const examples = [
  'flux new add-photos',
  'flux new backfill-thumbnails --store photos',
  'flux new add-hotels --store catalog --sql',
  'flux new add-rooms --store catalog --autogenerate',
  'flux new hotfix --head app/20261121093000_add-photos',
  'flux new gallery --after @travel/images/001_layout',
]

/**
 * Per kind of store: the type of `ctx.store`, from the adapter's package, and one real call of
 * it for up() and one that undoes it for down(), shown commented out in the template.
 */
const CLIENT_TYPES: Record<string, { from: string; type: string; up: string; down: string }> = {
  fs: {
    from: '@flux/fs',
    type: 'FsClient',
    up: "await store.put('hello.txt', 'hello\\n')",
    down: "await store.delete('hello.txt')",
  },
  pg: {
    from: '@flux/pg',
    type: 'PgClient',
    up: "await store.query('create table example (id int primary key, name text not null)')",
    down: "await store.query('drop table example')",
  },
  mongo: {
    from: '@flux/mongo',
    type: 'MongoStoreClient',
    up: "await store.ensureIndexes('example', [{ key: { name: 1 }, unique: true }])",
    down: "await store.db.collection('example').dropIndex('name_1')",
  },
  redis: {
    from: '@flux/redis',
    type: 'RedisClient',
    up: "await store.redis.set('example', 'hello')",
    down: "await store.redis.del('example')",
  },
  s3: {
    from: '@flux/s3',
    type: 'S3Client',
    up: "await store.put('hello.txt', 'hello\\n')",
    down: "await store.delete('hello.txt')",
  },
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
  const project = await openProject(configFile, { allowMissingMigrations: true, unsetStoresAllowed: true })
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
  const kind = project.adapters[store]!.kind
  const sql = values.sql === true
  if (sql && kind !== 'pg') {
    throw new FluxError(
      'USAGE',
      `--sql writes an SQL migration, which only a pg store runs: store "${store}" is ${kind}`,
      {
        hint: `drop --sql to write a TypeScript migration for "${store}"${pgStores(project.adapters)}`,
      },
    )
  }
  const generated =
    values.autogenerate === true ? await autogenerated(project.adapters[store]!, store, nodes, output) : undefined
  if (generated && generated.up.length === 0) {
    output.line(`nothing to generate: store "${store}" already matches its declared schema`)
    for (const note of generated.notes) output.line(`  note: ${note}`)
    return 0
  }
  const name = migrationFileName(slug, project.graph.nodes)
  const generatedTs = generated?.language === 'typescript'
  const file = join(component.dir, `${name}.${sql || (generated && !generatedTs) ? 'sql' : 'ts'}`)
  if (await mkdir(component.dir, { recursive: true }))
    output.line(`created ${relative(process.cwd(), component.dir)}${sep}`)
  const parents = () => sqlParents(project.graph.nodes, component.name, name, heads)
  const source = generated
    ? generatedTs
      ? generatedTypeScript(store, kind, heads, after, generated)
      : generatedSql(store, parents(), after, generated)
    : sql
      ? sqlTemplate(store, parents(), after)
      : typedTemplate(store, kind, heads, after)
  await writeFile(file, source, { flag: 'wx' })
  await writeSum(component.dir, project.loaders.keys())
  output.line(`created ${relative(process.cwd(), file)}`)
  if (generated) {
    output.line(
      `  ${generated.up.length} statement${generated.up.length === 1 ? '' : 's'} up, ${generated.down.length} down, generated from the declared schema: review it, then \`flux up\``,
    )
    for (const note of generated.notes) output.line(`  note: ${note}`)
  }
  return 0
}

type Generated = {
  up: string[]
  down: string[]
  notes: string[]
  renames?: { id: string; question: string }[]
  language?: 'sql' | 'typescript'
}

/** The store's candidate migration: an empty `up` when it already matches its declared schema. */
async function autogenerated(
  adapter: Adapter,
  store: string,
  nodes: readonly MigrationNode[],
  output: Output,
): Promise<Generated> {
  if (adapter.autogenerate === undefined) {
    // a pg store whose url is unset has no hook either: its own error names the variable
    await adapter.open().then(
      () => adapter.close(),
      (error: unknown) => {
        if (FluxError.is(error) && error.code === 'CONFIG_INVALID') throw error
      },
    )
    throw new FluxError('USAGE', `store "${store}" is ${adapter.kind}, whose adapter cannot autogenerate migrations`, {
      hint: 'autogenerate works for pg and mongo stores with a declared schema: pass --store <such a store>, or drop --autogenerate',
    })
  }
  await adapter.open()
  try {
    // the store would be compared without what its pending migrations change: they would be generated again
    const applied = new Set(
      (await adapter.ledger.read()).filter((entry) => entry.status === 'applied').map((entry) => entry.id),
    )
    const pending = nodes.filter((node) => node.store === store && !applied.has(node.id)).map((node) => node.id)
    if (pending.length > 0) {
      throw new FluxError(
        'USAGE',
        `store "${store}" has ${pending.length} migration${pending.length === 1 ? '' : 's'} not applied (${pending.slice(0, 3).join(', ')}${pending.length > 3 ? ', …' : ''}): autogenerate would write what ${pending.length === 1 ? 'it changes' : 'they change'} again`,
        { hint: 'apply them first with `flux up` (`flux status` lists them), then autogenerate', store },
      )
    }
    const nothing: Generated = { up: [], down: [], notes: [] }
    const generated = (await adapter.autogenerate()) ?? nothing
    // off a terminal a rename is never guessed: the migration keeps the drop and the add, with a note
    if (!generated.renames?.length || !process.stdin.isTTY || !output.interactive) return generated
    const accepted = await askRenames(generated.renames)
    return accepted.length > 0 ? ((await adapter.autogenerate({ renames: accepted })) ?? nothing) : generated
  } finally {
    await adapter.close()
  }
}

/** Asks each question on the terminal; the ids answered yes. */
async function askRenames(questions: readonly { id: string; question: string }[]): Promise<string[]> {
  const prompt = createInterface({ input: process.stdin, output: process.stderr })
  try {
    const accepted: string[] = []
    for (const { id, question } of questions) {
      if (/^y(es)?$/i.test((await prompt.question(`${question} [y/N] `)).trim())) accepted.push(id)
    }
    return accepted
  } finally {
    prompt.close()
  }
}

/** A generated SQL migration: the header of `sqlTemplate`, notes as comments, each statement ended by `;`. */
function generatedSql(
  store: string,
  parents: readonly string[] | undefined,
  after: readonly string[],
  generated: Generated,
): string {
  const header = sqlTemplate(store, parents, after).split('-- flux:up')[0]
  const notes = generated.notes.map((note) => `-- flux: ${note}\n`).join('')
  const statements = (list: readonly string[]) => list.map((statement) => `${statement};\n`).join('\n')
  return `${header}-- flux:up
-- generated by \`flux new --autogenerate\` from the store's declared schema: review it before applying
${notes}
${statements(generated.up)}
-- flux:down
${statements(generated.down)}`
}

/** A generated TypeScript migration: notes as comments, the statements in up() and down(); no down() when none undoes it. */
function generatedTypeScript(
  store: string,
  kind: string,
  heads: readonly MigrationNode[],
  after: readonly string[],
  generated: Generated,
): string {
  const client = CLIENT_TYPES[kind]
  const body = (list: readonly string[]) =>
    list.map((statement) => `    ${statement.replace(/\n/g, '\n    ')}\n`).join('')
  const notes = generated.notes.map((note) => `// flux: ${note}\n`).join('')
  const down = generated.down.length > 0 ? `\n  async down({ store }) {\n${body(generated.down)}  },` : ''
  return `import { defineMigration } from '@flux/core'
${client ? `import type { ${client.type} } from '${client.from}'\n` : ''}
// generated by \`flux new --autogenerate\` from the store's declared schema: review it before applying
${notes}export default defineMigration${client ? `<${client.type}>` : ''}({
  store: '${store}',${parentsAndAfter(heads, after)}
  async up({ store }) {
${body(generated.up)}  },${down}
})
`
}

function parentsAndAfter(heads: readonly MigrationNode[], after: readonly string[]): string {
  return (
    (heads.length > 0 ? `\n  parents: [${heads.map((head) => `'${head.name}'`).join(', ')}],` : '') +
    (after.length > 0 ? `\n  after: [${after.map((id) => `'${id}'`).join(', ')}],` : '')
  )
}

function typedTemplate(store: string, kind: string, heads: readonly MigrationNode[], after: readonly string[]): string {
  const client = CLIENT_TYPES[kind]
  const parents = parentsAndAfter(heads, after)
  return `import { defineMigration } from '@flux/core'
${client ? `import type { ${client.type} } from '${client.from}'\n` : ''}
export default defineMigration${client ? `<${client.type}>` : ''}({
  store: '${store}',${parents}
  async up({ store }) {
    // change the store here${client ? `\n    // ${client.up}` : ''}
  },
  async down({ store }) {
    // undo up() here${client ? `\n    // ${client.down}` : ''}
  },
})
`
}

/** An SQL migration, with the header `loadSqlMigration` of @flux/pg parses. */
function sqlTemplate(store: string, parents: readonly string[] | undefined, after: readonly string[]): string {
  return `-- flux:store ${store}
${parents ? `-- flux:parents ${parents.join(' ')}\n` : ''}${after.length > 0 ? `-- flux:after ${after.join(' ')}\n` : ''}-- flux:up
-- create table example (id int primary key, name text not null);

-- flux:down
-- drop table example;
`
}

/**
 * The `-- flux:parents` of a new SQL file: `undefined` where the default (the previous file of
 * the folder) is already right, which keeps the header short.
 */
function sqlParents(
  nodes: readonly MigrationNode[],
  component: string,
  name: string,
  heads: readonly MigrationNode[],
): string[] | undefined {
  const before = nodes
    .filter((node) => node.component === component && node.name < name)
    .map((node) => node.name)
    .sort()
  const previous = before[before.length - 1]
  const names = heads.map((head) => head.name)
  const isDefault = previous === undefined ? names.length === 0 : names.length === 1 && names[0] === previous
  return isDefault ? undefined : names
}

function pgStores(adapters: Record<string, { kind: string }>): string {
  const names = Object.keys(adapters).filter((name) => adapters[name]!.kind === 'pg')
  return names.length > 0 ? `, or pass --store ${names.join(' or ')} for an SQL one` : ''
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
