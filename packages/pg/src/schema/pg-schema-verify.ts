import type { MigrationContext } from '@flux/core'
import type { PgClient } from '../pg-client.ts'
import type { SchemaOperation } from './pg-schema-ops.ts'

type Found = boolean | 'invalid'
type Check = (store: PgClient) => Promise<Found>

/**
 * A `verify()` for a migration outside a transaction, which a crash can leave half done: it
 * looks in the catalog for each operation's effect. `true` when all are there, `false` when
 * none is, `undefined` when some are, or an index built concurrently is left invalid (it must
 * be dropped by hand before the migration can run again). `undefined` (no verify) when an
 * operation's effect cannot be looked up.
 */
export function verifierOf(
  operations: readonly SchemaOperation[],
  schema: string | undefined,
): ((context: MigrationContext<PgClient>) => Promise<boolean | undefined>) | undefined {
  const checks: Check[] = []
  for (const operation of operations) {
    const check = checkOf(operation, schema)
    if (!check) return undefined
    checks.push(check)
  }
  return async ({ store }) => {
    const found: Found[] = []
    for (const check of checks) found.push(await check(store))
    if (found.every((each) => each === true)) return true
    if (found.every((each) => each === false)) return false
    return undefined
  }
}

function checkOf(operation: SchemaOperation, schema: string | undefined): Check | undefined {
  const name = (relation: string) => (schema === undefined ? quoted(relation) : `${quoted(schema)}.${quoted(relation)}`)
  switch (operation.kind) {
    case 'createTable':
      return (store) => relationExists(store, name(operation.table))
    case 'dropTable':
      return async (store) => !(await relationExists(store, name(operation.table)))
    case 'addColumn':
      return (store) => columnExists(store, name(operation.table), operation.column)
    case 'dropColumn':
      return async (store) => !(await columnExists(store, name(operation.table), operation.column))
    case 'createIndex':
      return async (store) => {
        const { rows } = await store.query<{ valid: boolean }>(
          'select indisvalid as valid from pg_index where indexrelid = to_regclass($1)',
          [name(operation.name)],
        )
        // a failed `create index concurrently` leaves the index behind, marked invalid
        return rows.length === 0 ? false : rows[0]!.valid ? true : 'invalid'
      }
    case 'dropIndex':
      return async (store) => !(await relationExists(store, name(operation.name)))
    default:
      return undefined
  }
}

async function relationExists(store: PgClient, relation: string): Promise<boolean> {
  const { rows } = await store.query<{ found: boolean }>('select to_regclass($1) is not null as found', [relation])
  return rows[0]!.found
}

async function columnExists(store: PgClient, table: string, column: string): Promise<boolean> {
  const { rows } = await store.query(
    'select 1 from pg_attribute where attrelid = to_regclass($1) and attname = $2 and not attisdropped',
    [table, column],
  )
  return rows.length > 0
}

function quoted(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`
}
