import { defineMigration, FluxError, type MigrationContext, type MigrationDefinition } from '@flux/core'
import { deferOf, type PgClient } from '../pg-client.ts'
import { compileOperations } from './pg-schema-compile.ts'
import { type SchemaOperation, type SchemaOperations, schemaOperations } from './pg-schema-ops.ts'
import { describeOperation, destroyedBy, inverseOf } from './pg-schema-ops-inverse.ts'
import { verifierOf } from './pg-schema-verify.ts'

/** The operations of a migration, made from the operation builder. */
export type SchemaOperationList = (schema: SchemaOperations) => readonly SchemaOperation[]

export interface SchemaMigrationOptions {
  /** The pg store the operations run on. */
  store: string
  /** As in `defineMigration`: default the previous file of the component. */
  parents?: string[]
  /** As in `defineMigration`. */
  after?: string[]
  /**
   * Run in one transaction with the ledger record. Default `true`; `false` is required by
   * `createIndex(…, { concurrently: true })`, and then each statement runs on its own, and
   * the migration gets a `verify()` for `flux resolve --auto` where its operations are
   * tables, columns and indexes (an index left invalid by a failed build: it cannot tell).
   */
  transaction?: boolean
  /** Qualifies every table, index, constraint target and enum with this schema (not raw `sql`). Default: none, the search path decides. */
  schema?: string
  /**
   * The operations that undo `up`, written by hand: wins over the derived down. Without it,
   * `down` is derived where every operation has a certain inverse (see each operation), and
   * otherwise the migration has no down.
   */
  down?: SchemaOperationList
  /** As in `defineMigration`; by default, set when `down` drops a table or column, naming them. */
  destroysData?: boolean | string
}

/**
 * A pg migration made of schema operations (Alembic's `op.*`), compiled to SQL when the
 * migration is loaded, with no connection: `sql.up` and `sql.down` are exactly what runs, so
 * `flux plan --sql` prints it, and the runner sends it in the migration's transaction,
 * batched with its neighbours like a `.sql` file.
 *
 * @example
 * ```ts
 * import { schemaMigration } from '@flux/pg'
 *
 * export default schemaMigration({ store: 'catalog' }, (schema) => [
 *   schema.addColumn('hotel', 'stars', { type: 'smallint', notNull: true, default: 3 }),
 *   schema.addCheck('hotel_stars', 'hotel', 'stars between 1 and 5'),
 * ])
 * ```
 */
export function schemaMigration(
  options: SchemaMigrationOptions,
  operations: SchemaOperationList,
): MigrationDefinition<PgClient> {
  const up = operations(schemaOperations)
  const invalid = (message: string, hint: string) =>
    new FluxError('MIGRATION_INVALID', message, { store: options.store, hint })
  if (up.length === 0)
    throw invalid('schemaMigration has no operations', 'return at least one operation from its callback')
  const derived = inverseOf(up)
  const down = options.down ? options.down(schemaOperations) : 'down' in derived ? derived.down : undefined
  for (const operation of [...up, ...(down ?? [])]) {
    const concurrent =
      (operation.kind === 'createIndex' && operation.options.concurrently) ||
      (operation.kind === 'dropIndex' && operation.concurrently)
    if (concurrent && options.transaction !== false) {
      throw invalid(
        `schemaMigration: ${describeOperation(operation)} runs concurrently, which PostgreSQL refuses inside a transaction`,
        'give the migration `transaction: false` (keep it to this one operation, so a failure leaves nothing half done)',
      )
    }
    if (
      operation.kind === 'alterColumn' &&
      Object.keys(operation.change).every((key) => key === 'was' || key === 'using')
    ) {
      throw invalid(
        `schemaMigration: ${describeOperation(operation)} changes nothing`,
        'give it a type, notNull or default',
      )
    }
  }

  const upSql = compileOperations(up, options.schema)
  const definition: MigrationDefinition<PgClient> = {
    store: options.store,
    sql: { up: upSql },
    up: (context) => run(context, upSql),
  }
  if (options.parents) definition.parents = options.parents
  if (options.after) definition.after = options.after
  if (options.transaction !== undefined) definition.transaction = options.transaction
  // in a transaction, a crash rolls back the operations with the ledger write: nothing to verify
  const verify = options.transaction === false ? verifierOf(up, options.schema) : undefined
  if (verify) definition.verify = verify
  if (down) {
    const downSql = compileOperations(down, options.schema)
    definition.sql = { up: upSql, down: downSql }
    definition.down = (context) => run(context, downSql)
    const destroys = options.destroysData ?? destroyedBy(down)
    if (destroys !== undefined) definition.destroysData = destroys
  } else if (options.destroysData !== undefined) {
    definition.destroysData = options.destroysData
  }
  Object.defineProperty(definition, OPERATIONS, {
    value: { up, down, irreversible: 'irreversible' in derived ? derived.irreversible : undefined },
  })
  return defineMigration(definition)
}

const OPERATIONS = Symbol.for('flux.pg.schema-operations')

/** The operations of a migration made by {@link schemaMigration}; `undefined` for any other. */
export function schemaOperationsOf(
  definition: MigrationDefinition,
): { up: readonly SchemaOperation[]; down?: readonly SchemaOperation[]; irreversible?: SchemaOperation } | undefined {
  return (definition as unknown as Record<symbol, ReturnType<typeof schemaOperationsOf>>)[OPERATIONS]
}

/**
 * Runs the statements: in a server transaction, queued to go with the ledger write and COMMIT
 * in one round trip, like a `.sql` file's; elsewhere one by one, stopping between them when
 * the run is cancelled.
 */
async function run(context: MigrationContext<PgClient>, statements: readonly string[]): Promise<void> {
  const defer = deferOf(context.store)
  const { id, store, direction } = context.migration
  // core prefixes an error thrown here with this; a batch's error reaches the user as made
  const prefix = defer ? `migration ${id} failed (${direction}): ` : ''
  const failed = (statement: string, error: unknown) => {
    const index = /^create (?:unique )?index concurrently ("(?:[^"]|"")*")/.exec(statement)?.[1]
    const on = index && / on ((?:"(?:[^"]|"")*"\.)?)/.exec(statement)?.[1]
    // in the message: core replaces the hint of a failure outside a transaction with its own
    const advice = index
      ? ` (a failed \`create index concurrently\` leaves the index behind, invalid: \`drop index concurrently ${on}${index}\` before running the migration again)`
      : ''
    return new FluxError('MIGRATION_FAILED', `${prefix}${(error as Error).message}, in \`${statement}\`${advice}`, {
      migration: id,
      store,
      cause: error,
    })
  }
  if (defer) {
    context.signal.throwIfAborted()
    for (const statement of statements) defer(statement, (error) => failed(statement, error))
    return
  }
  for (const statement of statements) {
    context.signal.throwIfAborted()
    try {
      await context.store.query(statement)
    } catch (error) {
      throw failed(statement, error)
    }
  }
}
