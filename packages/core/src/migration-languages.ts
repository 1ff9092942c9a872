import { extname, relative } from 'node:path'
import type { Adapter } from './adapter.ts'
import { FluxError } from './errors.ts'
import type { Graph } from './graph/graph.ts'
import { type Component, listMigrationFiles, type MigrationFileLoaders } from './load-migrations.ts'

/** Migration languages of the adapters that ship with flux, beside TypeScript, and the kind of store that runs each. */
const KNOWN_LANGUAGES: Readonly<Record<string, string>> = { '.sql': 'pg' }

/**
 * A `.sql` migration in a project without a store that reads `.sql` would be passed over
 * in silence (only the adapters' loaders make such files migrations): it is refused instead.
 */
export async function assertLanguagesHaveStores(
  components: Component[],
  loaders: MigrationFileLoaders,
  cwd: string,
): Promise<void> {
  const unread = Object.keys(KNOWN_LANGUAGES).filter((extension) => !loaders.has(extension))
  if (unread.length === 0) return
  for (const component of components) {
    const files = (await listMigrationFiles(component.dir, unread)).filter(({ fileName }) =>
      unread.includes(extname(fileName)),
    )
    if (files.length === 0) continue
    const extension = extname(files[0]!.fileName)
    const file = relative(cwd, files[0]!.file) || files[0]!.file
    throw new FluxError(
      'MIGRATION_INVALID',
      `${file}: no store in the config runs ${extension} migrations (a ${KNOWN_LANGUAGES[extension]} store does)`,
      {
        file,
        hint: `add a ${KNOWN_LANGUAGES[extension]} store to the config, or write the migration in TypeScript; nothing was applied`,
      },
    )
  }
}

/**
 * A migration in another language than TypeScript (`.sql`) runs only on a store whose adapter
 * reads that language: one bound to another store is refused before anything runs, as `plan`
 * would otherwise show a step that `up` cannot take.
 */
export function assertLoadersMatchStores(
  graph: Graph,
  adapters: Readonly<Record<string, Adapter>>,
  loaders: MigrationFileLoaders,
): void {
  for (const node of graph.nodes) {
    const extension = extname(node.file)
    const adapter = adapters[node.store]
    if (!loaders.has(extension) || !adapter) continue
    if (adapter.migrationFiles?.extensions.includes(extension)) continue
    const readers = Object.entries(adapters)
      .filter(([, other]) => other.migrationFiles?.extensions.includes(extension))
      .map(([name, other]) => `"${name}" (${other.kind})`)
    throw new FluxError(
      'MIGRATION_INVALID',
      `${node.file}: a ${extension} migration cannot run on store "${node.store}", which is ${adapter.kind}; ${extension} migrations run on ${readers.join(', ')}`,
      {
        file: node.file,
        migration: node.id,
        store: node.store,
        hint: node.package
          ? `bind the component's role to a store that runs ${extension} migrations; nothing was applied`
          : `name a store that runs ${extension} migrations in its header, or write it in TypeScript; nothing was applied`,
      },
    )
  }
}
