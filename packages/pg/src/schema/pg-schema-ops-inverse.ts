import { bulkInverse } from './pg-bulk-insert.ts'
import type { SchemaOperation } from './pg-schema-ops.ts'

/**
 * The operations that undo `operations`, in reverse order, where every one has a certain
 * inverse; otherwise the first operation that has none, to name it in a message.
 */
export function inverseOf(
  operations: readonly SchemaOperation[],
): { down: SchemaOperation[] } | { irreversible: SchemaOperation } {
  const down: SchemaOperation[] = []
  for (const operation of [...operations].reverse()) {
    const inverse = operation.kind === 'bulkInsert' ? bulkInverse(operation, operations) : inverseOfOne(operation)
    // null: nothing to undo (rows inserted into a table that the down drops)
    if (inverse === null) continue
    if (!inverse) return { irreversible: operation }
    down.push(inverse)
  }
  return { down }
}

function inverseOfOne(operation: SchemaOperation): SchemaOperation | undefined {
  switch (operation.kind) {
    case 'createTable':
      return { kind: 'dropTable', table: operation.table }
    case 'renameTable':
      return { kind: 'renameTable', table: operation.to, to: operation.table }
    case 'addColumn':
      return { kind: 'dropColumn', table: operation.table, column: operation.column }
    case 'renameColumn':
      return { kind: 'renameColumn', table: operation.table, column: operation.to, to: operation.column }
    case 'alterColumn': {
      const { change } = operation
      const was = change.was ?? {}
      const back: SchemaOperation = {
        kind: 'alterColumn',
        table: operation.table,
        column: operation.column,
        change: {},
      }
      if (change.type !== undefined) {
        if (was.type === undefined) return undefined
        back.change.type = was.type
        if (was.using !== undefined) back.change.using = was.using
      }
      if (change.default !== undefined) {
        if (was.default === undefined) return undefined
        back.change.default = was.default
      }
      if (change.notNull !== undefined) back.change.notNull = was.notNull ?? !change.notNull
      return back
    }
    case 'createIndex':
      return { kind: 'dropIndex', name: operation.name, concurrently: operation.options.concurrently === true }
    case 'addForeignKey':
    case 'addUnique':
    case 'addCheck':
    case 'addPrimaryKey':
      return { kind: 'dropConstraint', name: operation.name, table: operation.table }
    case 'createEnum':
      return { kind: 'dropEnum', name: operation.name }
    default:
      return undefined
  }
}

/** What the operations destroy, for `destroysData`: `'drops table hotel, column room.price'`; `undefined`: nothing known. */
export function destroyedBy(operations: readonly SchemaOperation[]): string | undefined {
  const destroyed: string[] = []
  for (const operation of operations) {
    if (operation.kind === 'dropTable') destroyed.push(`table ${operation.table}`)
    else if (operation.kind === 'dropColumn') destroyed.push(`column ${operation.table}.${operation.column}`)
    else if (operation.kind === 'bulkDelete') destroyed.push(`${operation.rows.length} rows of ${operation.table}`)
    else if (operation.kind === 'sql' && /\b(drop\s+table|drop\s+column|truncate)\b/i.test(operation.text)) {
      destroyed.push('what its raw SQL drops or truncates')
    }
  }
  return destroyed.length > 0 ? `drops ${destroyed.join(', ')}` : undefined
}

/** Describes an operation for a message: `dropColumn room.price`. */
export function describeOperation(operation: SchemaOperation): string {
  switch (operation.kind) {
    case 'sql':
      return `sql \`${operation.text.length > 40 ? `${operation.text.slice(0, 40)}…` : operation.text}\``
    case 'dropColumn':
    case 'renameColumn':
    case 'alterColumn':
    case 'addColumn':
      return `${operation.kind} ${operation.table}.${operation.column}`
    case 'createTable':
    case 'dropTable':
    case 'renameTable':
    case 'bulkInsert':
    case 'bulkDelete':
      return `${operation.kind} ${operation.table}`
    default:
      return `${operation.kind} ${operation.name}`
  }
}
