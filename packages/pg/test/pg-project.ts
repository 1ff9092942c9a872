import {
  type Adapter,
  buildGraph,
  capabilitiesOf,
  checksumOf,
  type LoadedMigration,
  type MigrationDefinition,
  type Project,
} from '@flux/core'
import { loadSqlMigration } from '../src/index.ts'

/** A migration of the test project: the text of an SQL file, or a definition (as a TS file exports). */
export type TestMigration = { name: string; sql: string } | { name: string; definition: MigrationDefinition }

/**
 * A loaded project, as `loadProject()` gives it, without files: one component `app` whose
 * migrations are the given ones in order, over the given stores.
 */
export function testProject(adapters: Record<string, Adapter>, migrations: TestMigration[]): Project {
  const loaded: LoadedMigration[] = migrations.map((migration) => {
    const extension = 'sql' in migration ? 'sql' : 'ts'
    const displayFile = `migrations/${migration.name}.${extension}`
    return {
      id: `app/${migration.name}`,
      component: 'app',
      name: migration.name,
      file: `/project/${displayFile}`,
      displayFile,
      checksum: checksumOf('sql' in migration ? migration.sql : String(migration.definition.up)),
      definition: 'sql' in migration ? loadSqlMigration(displayFile, migration.sql) : migration.definition,
    }
  })
  return {
    root: '/project',
    configFile: '/project/flux.config.ts',
    components: [{ name: 'app', dir: '/project/migrations' }],
    migrations: loaded,
    graph: buildGraph(loaded, Object.keys(adapters)),
    loaders: new Map(),
    retired: [],
    ignoredComponents: [],
    adapters,
    stores: Object.fromEntries(
      Object.entries(adapters).map(([name, adapter]) => [
        name,
        { kind: adapter.kind, transactions: capabilitiesOf(adapter).transactions },
      ]),
    ),
    lease: { ttlMs: 10_000, waitMs: 60_000 },
  }
}
