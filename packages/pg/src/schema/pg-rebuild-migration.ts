import { DEFAULT_BATCH_SIZE, defineMigration, type MigrationDefinition } from '@flux/core'
import type { PgClient } from '../pg-client.ts'
import {
  DEFAULT_REBUILD_LOCK_RETRIES,
  DEFAULT_REBUILD_LOCK_TIMEOUT_MS,
  type RebuildTableOptions,
  rebuildTable,
  savedOf,
} from './pg-rebuild.ts'
import { oidOf, tableOf } from './pg-rebuild-catalog.ts'
import { changeOperations, describeRebuild, namesOf, type RebuildChange } from './pg-rebuild-sql.ts'

export interface RebuildMigrationOptions extends RebuildTableOptions {
  /** The pg store of the table. */
  store: string
  /** The table, `hotel` or `schema.hotel`. */
  table: string
  /** As in `defineMigration`: default the previous file of the component. */
  parents?: string[]
  /** As in `defineMigration`. */
  after?: string[]
}

/**
 * A migration that runs {@link rebuildTable}, with `transaction: false`: `flux plan --sql` shows,
 * as comments, what it will do (the change's statements among them), and `flux resolve --auto`
 * can tell whether a dirty run swapped the tables. It has no `down`: the old table stops
 * receiving writes at the swap, so swapping back would lose them.
 *
 * @example
 * ```ts
 * import { rebuildMigration } from '@flux/pg'
 *
 * export default rebuildMigration({
 *   store: 'catalog',
 *   table: 'booking',
 *   change: (schema) => [schema.alterColumn('booking', 'price', { type: 'numeric(10,2)', using: 'price::numeric(10,2)' })],
 * })
 * ```
 */
export function rebuildMigration(
  options: RebuildMigrationOptions & { change: RebuildChange },
): MigrationDefinition<PgClient> {
  const { store, table, change, parents, after, ...rebuild } = options
  const operations = changeOperations(table, change)
  const definition: MigrationDefinition<PgClient> = {
    store,
    transaction: false,
    sql: {
      up: [
        describeRebuild(table, operations, {
          batchSize: rebuild.batchSize ?? DEFAULT_BATCH_SIZE,
          lockTimeoutMs: rebuild.lockTimeoutMs ?? DEFAULT_REBUILD_LOCK_TIMEOUT_MS,
          lockRetries: rebuild.lockRetries ?? DEFAULT_REBUILD_LOCK_RETRIES,
        }),
      ],
    },
    up: async (context) => {
      await rebuildTable(context, table, change, rebuild)
    },
    async verify({ store: client, checkpoint }) {
      const found = await tableOf(client, table)
      if (!found) return undefined
      const names = namesOf(found.schema, found.name)
      if ((await oidOf(client, names.schema, names.fresh)) !== undefined) return undefined
      // swapped: the kept table is the one this migration began with (a checkpoint is saved before anything is made)
      const kept = await oidOf(client, names.schema, names.kept)
      return kept !== undefined && kept === savedOf(checkpoint.value)?.table
    },
  }
  if (parents) definition.parents = parents
  if (after) definition.after = after
  return defineMigration(definition)
}
