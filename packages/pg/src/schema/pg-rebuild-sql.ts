import { FluxError } from '@flux/core'
import { quoteIdentifier as quote, type RebuiltTable, suffixed, type TableIndex } from './pg-rebuild-catalog.ts'
import { compileOperations } from './pg-schema-compile.ts'
import { type SchemaOperation, type SchemaOperations, schemaOperations } from './pg-schema-ops.ts'

/** The suffix of the table a rebuild fills, renamed to the table's name at the swap. */
export const REBUILD_NEW_SUFFIX = '__flux_new'
/** The suffix the rebuilt table keeps after the swap, until a later migration drops it. */
export const REBUILD_OLD_SUFFIX = '__flux_old'
/** The row trigger on the old table that mirrors its writes into the new one during the copy. */
export const MIRROR_TRIGGER = 'flux_rebuild_mirror'
const TRUNCATE_TRIGGER = 'flux_rebuild_truncate'

/** The operations that make the new table from a copy of the old one, written on the old one's name. */
export type RebuildChange = (schema: SchemaOperations) => readonly SchemaOperation[]

const CHANGE_KINDS = new Set<SchemaOperation['kind']>([
  'addColumn',
  'dropColumn',
  'renameColumn',
  'alterColumn',
  'createIndex',
  'dropIndex',
  'addForeignKey',
  'addUnique',
  'addCheck',
  'dropConstraint',
])

/** The names a rebuild of `table` uses. */
export interface RebuildNames {
  schema: string
  table: string
  fresh: string
  kept: string
  mirror: string
}

export function namesOf(schema: string, table: string): RebuildNames {
  return {
    schema,
    table,
    fresh: suffixed(table, REBUILD_NEW_SUFFIX),
    kept: suffixed(table, REBUILD_OLD_SUFFIX),
    mirror: suffixed(table, '__flux_mirror'),
  }
}

const qualified = (names: RebuildNames, relation: string) => `${quote(names.schema)}.${quote(relation)}`

/**
 * The change's operations, checked: each one alters `table` (as the caller names it, with or
 * without its schema) and is of a kind a table copy can take. Throws a `MIGRATION_INVALID`
 * naming the first that is not.
 */
export function changeOperations(table: string, change: RebuildChange): SchemaOperation[] {
  const bare = table.split('.').pop()!
  const operations = [...change(schemaOperations)]
  for (const operation of operations) {
    const target = 'table' in operation ? operation.table : undefined
    const onTable = operation.kind === 'dropIndex' || target === table || target === bare
    if (!CHANGE_KINDS.has(operation.kind) || !onTable) {
      throw new FluxError(
        'MIGRATION_INVALID',
        `rebuildTable ${table}: the change may only alter ${table} (add, drop, rename or alter columns, add or drop indexes and constraints), not ${operation.kind}${target === undefined ? '' : ` of ${target}`}`,
        {
          hint: `name ${table} in every operation of the change, and run other operations in a migration of their own`,
        },
      )
    }
  }
  return operations
}

/** The change as it runs on the new table: renamed onto it, and onto the copies of the old table's indexes. */
export function changeOnNewTable(
  operations: readonly SchemaOperation[],
  names: RebuildNames,
  indexes: readonly TableIndex[],
): string[] {
  const copied = new Set(indexes.map((index) => index.name))
  const renamed = (name: string) => (copied.has(name) ? suffixed(name, REBUILD_NEW_SUFFIX) : name)
  const onNew = operations.map((operation): SchemaOperation => {
    if (operation.kind === 'dropIndex') return { ...operation, name: renamed(operation.name) }
    if (operation.kind === 'dropConstraint') return { ...operation, table: names.fresh, name: renamed(operation.name) }
    return { ...operation, table: names.fresh } as SchemaOperation
  })
  return compileOperations(onNew, names.schema)
}

/**
 * Each column of the new table filled from the old one, with the expression over the old row
 * (`src`) that gives its value: the same column, renamed, or an `alterColumn`'s `using`.
 * Columns the change adds take their default; columns it drops are not copied.
 */
export function columnMapping(table: RebuiltTable, operations: readonly SchemaOperation[]): Map<string, string> {
  const mapping = new Map(table.columns.map((column) => [column, `src.${quote(column)}`]))
  for (const operation of operations) {
    if (operation.kind === 'dropColumn') mapping.delete(operation.column)
    else if (operation.kind === 'renameColumn') {
      const value = mapping.get(operation.column)
      mapping.delete(operation.column)
      if (value !== undefined) mapping.set(operation.to, value)
    } else if (operation.kind === 'alterColumn' && operation.change.using !== undefined) {
      if (mapping.has(operation.column)) mapping.set(operation.column, `(${operation.change.using})`)
    }
  }
  for (const column of table.key) {
    if (mapping.get(column) !== `src.${quote(column)}`) {
      throw new FluxError(
        'MIGRATION_INVALID',
        `rebuildTable ${table.schema}.${table.name}: the change drops, renames or converts (\`using\`) the primary key column ${column}, which rows are copied and mirrored by`,
        { hint: 'change the key in a migration of its own; a type change without `using` (integer to bigint) is fine' },
      )
    }
  }
  return mapping
}

/** The statements that make the new table, the change included, and the triggers that keep it in step. */
export function setupStatements(
  names: RebuildNames,
  parts: {
    indexes: readonly TableIndex[]
    foreignKeys: readonly { name: string; definition: string }[]
    change: readonly string[]
    grants: readonly string[]
    mapping: Map<string, string>
    key: readonly string[]
  },
): string[] {
  const old = qualified(names, names.table)
  const fresh = qualified(names, names.fresh)
  const statements = [
    // indexes are made below under names of their own: theirs are the old table's until the swap
    `create table ${fresh} (like ${old} including all excluding indexes)`,
  ]
  for (const index of parts.indexes) {
    const name = quote(suffixed(index.name, REBUILD_NEW_SUFFIX))
    statements.push(
      index.constraint
        ? `alter table ${fresh} add constraint ${name} ${index.definition}`
        : `create ${index.definition.startsWith('unique ') ? 'unique index' : 'index'} ${name} on ${fresh} ${index.definition.replace(/^unique /, '')}`,
    )
  }
  for (const key of parts.foreignKeys)
    statements.push(`alter table ${fresh} add constraint ${quote(key.name)} ${key.definition}`)
  statements.push(...parts.change, ...parts.grants)
  const keyColumns = parts.key.map(quote).join(', ')
  const oldKey = parts.key.map((column) => `OLD.${quote(column)}`).join(', ')
  const newKey = parts.key.map((column) => `NEW.${quote(column)}`).join(', ')
  statements.push(
    `create function ${qualified(names, names.mirror)}() returns trigger language plpgsql as $flux$
begin
  if tg_op = 'TRUNCATE' then
    truncate ${fresh};
    return null;
  end if;
  if tg_op = 'DELETE' or (tg_op = 'UPDATE' and (${oldKey}) is distinct from (${newKey})) then
    delete from ${fresh} where (${keyColumns}) = (${oldKey});
  end if;
  if tg_op <> 'DELETE' then
    ${upsert(fresh, parts.mapping, parts.key, '(select NEW.*) as src')};
  end if;
  return null;
end
$flux$`,
    `create trigger ${quote(MIRROR_TRIGGER)} after insert or update or delete on ${old} for each row execute function ${qualified(names, names.mirror)}()`,
    `create trigger ${quote(TRUNCATE_TRIGGER)} after truncate on ${old} for each statement execute function ${qualified(names, names.mirror)}()`,
  )
  return statements
}

/**
 * The copy of one batch, the old table's rows whose key is between `$1…` and `$n…` (inclusive):
 * read `for share`, so that a concurrent update or delete of one of them waits for the batch to
 * be written (and is then mirrored after it), and a row changed just before is read as it is
 * now, never as it was: an older version can never overwrite what the trigger wrote.
 */
export function copyStatement(names: RebuildNames, mapping: Map<string, string>, key: readonly string[]): string {
  const keyColumns = key.map((column) => `src.${quote(column)}`).join(', ')
  const from = (first: number) => key.map((_, index) => `$${first + index}`).join(', ')
  const range = `(${keyColumns}) >= (${from(1)}) and (${keyColumns}) <= (${from(key.length + 1)})`
  return upsert(
    qualified(names, names.fresh),
    mapping,
    key,
    `${qualified(names, names.table)} as src where ${range} order by ${keyColumns} for share of src`,
  )
}

function upsert(table: string, mapping: Map<string, string>, key: readonly string[], from: string): string {
  const columns = [...mapping.keys()]
  const updates = columns
    .filter((column) => !key.includes(column))
    .map((column) => `${quote(column)} = excluded.${quote(column)}`)
  return `insert into ${table} (${columns.map(quote).join(', ')}) overriding system value select ${[...mapping.values()].join(', ')} from ${from} on conflict (${key.map(quote).join(', ')}) ${updates.length > 0 ? `do update set ${updates.join(', ')}` : 'do nothing'}`
}

/**
 * The swap, one script that PostgreSQL runs as one transaction: the lock (waiting at most
 * `lockTimeoutMs`), the triggers dropped, the old table and its indexes renamed out of the way,
 * the new ones renamed into place, its sequences handed over.
 */
export function swapScript(
  names: RebuildNames,
  parts: {
    lockTimeoutMs: number
    /** Old index name → the new table's copy of it, where the copy still exists. */
    indexes: readonly { name: string; copy: string | undefined }[]
    /** `serial` sequences the old table's columns own, and the new table's column for each (if it kept one). */
    owned: readonly { sequence: string; column: string | undefined }[]
    /** Identity sequences: the old table's, and the new table's for the same column. */
    identities: readonly { old: string; fresh: string }[]
  },
): string {
  const old = qualified(names, names.table)
  const fresh = qualified(names, names.fresh)
  const statements = [
    `select set_config('lock_timeout', '${Math.max(1, Math.round(parts.lockTimeoutMs))}ms', true)`,
    `lock table ${old}, ${fresh} in access exclusive mode`,
    `drop trigger ${quote(MIRROR_TRIGGER)} on ${old}`,
    `drop trigger ${quote(TRUNCATE_TRIGGER)} on ${old}`,
    `drop function ${qualified(names, names.mirror)}()`,
  ]
  // under the lock no nextval() runs: the new identity goes on where the old one stopped
  for (const { old: from, fresh: to } of parts.identities) {
    statements.push(
      `select setval('${qualified(names, to).replaceAll("'", "''")}', last_value, is_called) from ${qualified(names, from)}`,
    )
  }
  statements.push(`alter table ${old} rename to ${quote(names.kept)}`)
  for (const index of parts.indexes) {
    statements.push(
      `alter index ${qualified(names, index.name)} rename to ${quote(suffixed(index.name, REBUILD_OLD_SUFFIX))}`,
    )
  }
  for (const { old: from, fresh: to } of parts.identities) {
    statements.push(`alter sequence ${qualified(names, from)} rename to ${quote(suffixed(from, REBUILD_OLD_SUFFIX))}`)
    statements.push(`alter sequence ${qualified(names, to)} rename to ${quote(from)}`)
  }
  statements.push(`alter table ${fresh} rename to ${quote(names.table)}`)
  for (const index of parts.indexes) {
    if (index.copy !== undefined)
      statements.push(`alter index ${qualified(names, index.copy)} rename to ${quote(index.name)}`)
  }
  // the new table's defaults call the old table's serial sequences: they go with it, so that dropping the old table later leaves them
  for (const { sequence, column } of parts.owned) {
    if (column !== undefined)
      statements.push(`alter sequence ${qualified(names, sequence)} owned by ${old}.${quote(column)}`)
  }
  return statements.join(';\n')
}

/** What a rebuild will do, as SQL comments for `flux plan --sql`: the copy is not one statement. */
export function describeRebuild(
  table: string,
  operations: readonly SchemaOperation[],
  options: { batchSize: number; lockTimeoutMs: number; lockRetries: number },
): string {
  const bare = table.split('.').pop()!
  const fresh = suffixed(bare, REBUILD_NEW_SUFFIX)
  const onNew = operations.map((operation) =>
    'table' in operation ? ({ ...operation, table: fresh } as SchemaOperation) : operation,
  )
  const change = compileOperations(onNew).map((statement) => `--      ${statement.replaceAll('\n', '\n--      ')}`)
  return [
    `-- rebuildTable ${table}: a move-and-copy, run outside a transaction, step by step (resumed after a crash):`,
    `-- 1. create table ${fresh} (like ${bare} including all), its indexes, foreign keys and grants, then the change:`,
    ...(change.length > 0 ? change : ['--      (none: the table is copied as it is)']),
    `-- 2. triggers on ${bare} mirror its inserts, updates, deletes and truncates into ${fresh}`,
    `-- 3. copy the rows of ${bare} in primary-key batches of ${options.batchSize}, a checkpoint per batch`,
    `-- 4. swap in one transaction: lock table ${bare} in access exclusive mode (lock_timeout ${options.lockTimeoutMs}ms, up to ${options.lockRetries} tries),`,
    `--    rename ${bare} to ${suffixed(bare, REBUILD_OLD_SUFFIX)} and ${fresh} to ${bare}, drop the triggers, hand over its sequences`,
    `-- ${suffixed(bare, REBUILD_OLD_SUFFIX)} is kept: drop it in a later migration`,
  ].join('\n')
}
