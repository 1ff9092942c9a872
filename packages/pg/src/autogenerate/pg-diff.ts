import { diffObjects } from './pg-diff-objects.ts'
import { type Add, Phase } from './pg-diff-phase.ts'
import type { ColumnModel, ConstraintModel, EnumModel, SchemaModel, TableModel } from './pg-introspect.ts'

/** The statements that take a schema from `live` to `declared`, and back. */
export interface SchemaDiff {
  /** In order, each without its `;`. Empty: the two are equal. */
  up: string[]
  /** The inverse of `up`, in order. */
  down: string[]
  /** For the reviewer: choices made (renames), what was not generated and why. One line each. */
  notes: string[]
  /** Each drop and add that may have been a rename, with the question to ask about it. */
  renames: RenameQuestion[]
}

/** A drop and an add that may have been a rename: `id` is what a yes puts in `accepted`. */
export interface RenameQuestion {
  id: string
  question: string
}

interface Context {
  add: Add
  notes: string[]
  renames: RenameQuestion[]
  accepted: ReadonlySet<string>
}

interface Change {
  phase: Phase
  up: string[]
  down: string[]
}

/**
 * Compares two schemas read by `introspect()`. Tables, columns (type, null, default),
 * primary, unique, foreign, check and exclusion constraints, indexes, enum types, views and
 * sequences; a constraint, index or view that changed is dropped and created again. Renames are
 * never guessed: a dropped and an added column (or table) stay a drop and an add, with a note
 * and a question, unless the question's id is in `accepted` (a user said yes).
 */
export function diffSchemas(
  live: SchemaModel,
  declared: SchemaModel,
  accepted: ReadonlySet<string> = new Set(),
): SchemaDiff {
  const changes: Change[] = []
  const notes = (declared.uncompared ?? []).map(
    (what) => `${what} is declared, but autogenerate does not compare it yet: write its migration by hand`,
  )
  const add = (phase: Phase, up: string | string[], down: string | string[]) =>
    changes.push({ phase, up: [up].flat(), down: [down].flat() })
  const context: Context = { add, notes, renames: [], accepted }

  for (const wanted of declared.enums.values()) {
    const current = live.enums.get(wanted.name)
    if (!current) add(Phase.createEnum, createEnum(wanted), `drop type ${wanted.name}`)
    else diffEnum(current, wanted, add, notes)
  }
  for (const current of live.enums.values()) {
    if (!declared.enums.has(current.name)) add(Phase.dropEnum, `drop type ${current.name}`, createEnum(current))
  }

  let created = [...declared.tables.values()].filter((table) => !live.tables.has(table.name))
  let dropped = [...live.tables.values()].filter((table) => !declared.tables.has(table.name))
  const renamed = renamesOf(
    context,
    pairs(dropped, created, () => true),
    (from, to) => ({
      id: `table ${from.name} ${to.name}`,
      question: `table ${from.name} is gone and table ${to.name} is new: was it renamed (alter table ${from.name} rename to ${to.name})?`,
      note: `table ${from.name} dropped and table ${to.name} created; if it was a rename, replace both with: alter table ${from.name} rename to ${to.name}`,
    }),
  )
  created = created.filter((table) => !renamed.some(([, to]) => to === table))
  dropped = dropped.filter((table) => !renamed.some(([from]) => from === table))
  for (const table of created) {
    add(Phase.createTable, createTable(table), `drop table ${table.name}`)
    addForeignKeys(table, table.constraints, add)
    for (const index of table.indexes) add(Phase.createIndex, index.definition, `drop index ${index.name}`)
  }
  for (const table of dropped) {
    for (const constraint of table.constraints.filter(isForeignKey)) {
      add(Phase.dropForeignKey, dropConstraint(table, constraint), addConstraint(table, constraint))
    }
    add(Phase.dropTable, `drop table ${table.name}`, [
      createTable(table),
      ...table.indexes.map((index) => index.definition),
    ])
    notes.push(`table ${table.name} is dropped; its down creates it again, empty`)
  }
  for (const [from, to] of renamed) {
    add(
      Phase.renameTable,
      `alter table ${from.name} rename to ${to.name}`,
      `alter table ${to.name} rename to ${from.name}`,
    )
    notes.push(`table ${from.name} is renamed to ${to.name}, as answered`)
    diffTable({ ...from, name: to.name }, to, context)
  }
  for (const wanted of declared.tables.values()) {
    const current = live.tables.get(wanted.name)
    if (current) diffTable(current, wanted, context)
  }

  diffObjects(live, declared, add, notes)

  const ordered = changes
    .map((change, index) => ({ change, index }))
    .sort((a, b) => a.change.phase - b.change.phase || a.index - b.index)
  return {
    up: ordered.flatMap(({ change }) => change.up),
    down: ordered.reverse().flatMap(({ change }) => change.down),
    notes,
    renames: context.renames,
  }
}

function diffEnum(current: EnumModel, wanted: EnumModel, add: Add, notes: string[]): void {
  const missing = current.values.filter((value) => !wanted.values.includes(value))
  const kept = wanted.values.filter((value) => current.values.includes(value))
  const inOrder = kept.join(',') === current.values.join(',')
  if (missing.length > 0 || !inOrder) {
    notes.push(
      `enum ${current.name} is (${current.values.join(', ')}) and the declaration has (${wanted.values.join(', ')}): PostgreSQL cannot drop or reorder enum values; nothing was generated for it`,
    )
    return
  }
  wanted.values.forEach((value, index) => {
    if (current.values.includes(value)) return
    // values are added in the declared order, so the one before is there already
    const place = index > 0 ? `after ${wanted.values[index - 1]}` : `before ${kept[0]}`
    add(Phase.createEnum, `alter type ${current.name} add value if not exists ${value} ${place}`, [])
    notes.push(
      `enum ${current.name} gets value ${value}, which PostgreSQL cannot drop: the down leaves it, and the up adds it only if it is not there (the value cannot be used in this migration's own transaction)`,
    )
  })
}

function diffTable(current: TableModel, wanted: TableModel, context: Context): void {
  const { add, notes } = context
  const table = current.name
  const constraintChanges = changed(
    current.constraints,
    wanted.constraints,
    (a, b) => a.type === b.type && a.definition === b.definition,
  )
  const indexChanges = changed(current.indexes, wanted.indexes, (a, b) => a.definition === b.definition)
  for (const constraint of constraintChanges.removed) {
    const phase = isForeignKey(constraint) ? Phase.dropForeignKey : Phase.dropConstraint
    add(phase, dropConstraint(current, constraint), addConstraint(current, constraint))
  }
  for (const index of indexChanges.removed) add(Phase.dropIndex, `drop index ${index.name}`, index.definition)

  const columns = changed(current.columns, wanted.columns, () => true)
  const renamed = renamesOf(
    context,
    pairs(columns.removed, columns.added, (a, b) => a.type === b.type),
    (from, to) => ({
      id: `column ${table}.${from.name} ${to.name}`,
      question: `column ${table}.${from.name} is gone and ${table}.${to.name} is new: was it renamed (alter table ${table} rename column ${from.name} to ${to.name})?`,
      note: `column ${table}.${from.name} dropped and ${table}.${to.name} added; if it was a rename, replace both with: alter table ${table} rename column ${from.name} to ${to.name}`,
    }),
  )
  for (const [from, to] of renamed) {
    add(
      Phase.alterColumns,
      `alter table ${table} rename column ${from.name} to ${to.name}`,
      `alter table ${table} rename column ${to.name} to ${from.name}`,
    )
    notes.push(`column ${table}.${from.name} is renamed to ${to.name}, as answered`)
    diffColumn(table, { ...from, name: to.name }, to, add, notes)
  }
  columns.removed = columns.removed.filter((column) => !renamed.some(([from]) => from === column))
  columns.added = columns.added.filter((column) => !renamed.some(([, to]) => to === column))
  for (const column of columns.removed) {
    add(
      Phase.alterColumns,
      `alter table ${table} drop column ${column.name}`,
      `alter table ${table} add column ${columnDefinition(column)}`,
    )
    notes.push(
      `column ${table}.${column.name} is dropped with its data; its down adds it back, empty${needsValue(column) ? ` (it is not null without a default: that fails if ${table} has rows)` : ''}`,
    )
  }
  for (const column of columns.added) {
    add(
      Phase.alterColumns,
      `alter table ${table} add column ${columnDefinition(column)}`,
      `alter table ${table} drop column ${column.name}`,
    )
    if (needsValue(column)) {
      notes.push(
        `column ${table}.${column.name} is not null without a default: adding it fails if ${table} has rows; give it a default, or add it nullable, fill it, then set not null`,
      )
    }
  }
  for (const wantedColumn of wanted.columns) {
    const currentColumn = current.columns.find((column) => column.name === wantedColumn.name)
    if (currentColumn) diffColumn(table, currentColumn, wantedColumn, add, notes)
  }

  for (const constraint of constraintChanges.added.filter((constraint) => !isForeignKey(constraint))) {
    add(Phase.addConstraint, addConstraint(current, constraint), dropConstraint(current, constraint))
  }
  addForeignKeys(current, constraintChanges.added, add)
  for (const index of indexChanges.added) add(Phase.createIndex, index.definition, `drop index ${index.name}`)
}

function diffColumn(table: string, current: ColumnModel, wanted: ColumnModel, add: Add, notes: string[]): void {
  const alter = (change: string) => `alter table ${table} alter column ${current.name} ${change}`
  if (
    current.identity !== wanted.identity ||
    current.generated !== wanted.generated ||
    current.serial !== wanted.serial
  ) {
    notes.push(
      `column ${table}.${current.name} differs in identity, generation or serial: not covered by autogenerate yet; change it by hand`,
    )
    return
  }
  if (current.type !== wanted.type) {
    add(
      Phase.alterColumns,
      alter(`type ${wanted.type} using ${current.name}::${wanted.type}`),
      alter(`type ${current.type} using ${current.name}::${current.type}`),
    )
  }
  if (current.notNull !== wanted.notNull) {
    add(
      Phase.alterColumns,
      alter(wanted.notNull ? 'set not null' : 'drop not null'),
      alter(current.notNull ? 'set not null' : 'drop not null'),
    )
  }
  if (current.default !== wanted.default && !current.serial && !current.generated) {
    const to = (value: string | undefined) => (value === undefined ? 'drop default' : `set default ${value}`)
    add(Phase.alterColumns, alter(to(wanted.default)), alter(to(current.default)))
  }
}

/** Foreign keys go in once every table exists; their down drops them first. */
function addForeignKeys(table: TableModel, constraints: readonly ConstraintModel[], add: Add): void {
  for (const constraint of constraints.filter(isForeignKey)) {
    add(Phase.addForeignKey, addConstraint(table, constraint), dropConstraint(table, constraint))
  }
}

/** What is only in `before` (removed, or changed) and only in `after` (added, or changed), by name. */
function changed<T extends { name: string }>(
  before: readonly T[],
  after: readonly T[],
  same: (a: T, b: T) => boolean,
): { removed: T[]; added: T[] } {
  const match = (item: T, others: readonly T[]) => {
    const other = others.find((candidate) => candidate.name === item.name)
    return other !== undefined && same(item, other)
  }
  return {
    removed: before.filter((item) => !match(item, after)),
    added: after.filter((item) => !match(item, before)),
  }
}

/** Removed and added items paired in order, each with the first unpaired one of its kind (else any). */
function pairs<T>(removed: readonly T[], added: readonly T[], sameKind: (a: T, b: T) => boolean): [T, T][] {
  const free = [...added]
  const result: [T, T][] = []
  for (const item of removed) {
    const match = free.find((other) => sameKind(item, other)) ?? free[0]
    if (match === undefined) break
    free.splice(free.indexOf(match), 1)
    result.push([item, match])
  }
  return result
}

/** Asks about each pair (a question, and a note when it stays a drop and an add); the pairs answered yes. */
function renamesOf<T>(
  context: Context,
  candidates: readonly [T, T][],
  describe: (from: T, to: T) => RenameQuestion & { note: string },
): [T, T][] {
  return candidates.filter(([from, to]) => {
    const { id, question, note } = describe(from, to)
    context.renames.push({ id, question })
    if (context.accepted.has(id)) return true
    context.notes.push(note)
    return false
  })
}

/** A column that every existing row needs a value for, and gets none. */
function needsValue(column: ColumnModel): boolean {
  return column.notNull && column.default === undefined && !column.serial && !column.identity && !column.generated
}

function isForeignKey(constraint: ConstraintModel): boolean {
  return constraint.type === 'f'
}

function createEnum(type: EnumModel): string {
  return `create type ${type.name} as enum (${type.values.join(', ')})`
}

/** The table with its columns and every constraint but its foreign keys (added after). */
function createTable(table: TableModel): string {
  const lines = [
    ...table.columns.map(columnDefinition),
    ...table.constraints
      .filter((constraint) => !isForeignKey(constraint))
      .map((constraint) => `constraint ${constraint.name} ${constraint.definition}`),
  ]
  return `create table ${table.name} (\n  ${lines.join(',\n  ')}\n)`
}

function columnDefinition(column: ColumnModel): string {
  let text = `${column.name} ${column.serial ?? column.type}`
  if (column.identity) text += ` generated ${column.identity} as identity`
  else if (column.generated) text += ` generated always as (${column.default}) stored`
  else if (column.default !== undefined && !column.serial) text += ` default ${column.default}`
  if (column.notNull && !column.serial && !column.identity) text += ' not null'
  return text
}

function addConstraint(table: TableModel, constraint: ConstraintModel): string {
  return `alter table ${table.name} add constraint ${constraint.name} ${constraint.definition}`
}

function dropConstraint(table: TableModel, constraint: ConstraintModel): string {
  return `alter table ${table.name} drop constraint ${constraint.name}`
}
