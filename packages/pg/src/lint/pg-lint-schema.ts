/** What the statements of a store created so far, as the lint rules need it: tables, columns, views, checks. */

/** A node of libpg-query's parse tree: `{ AlterTableStmt: { … } }` and the like. */
export type AstNode = Record<string, any>

export interface TableState {
  /** Column name → its type as written (`varchar(20)`), where known. */
  columns: Map<string, ColumnType>
}

export interface ColumnType {
  name: string
  modifiers: number[]
}

export interface ViewState {
  relations: Set<string>
  columns: Set<string>
  /** `select *`: every column of its relations. */
  star: boolean
}

/** What the store's statements so far created: the history the rules look back on. */
export interface SchemaState {
  tables: Map<string, TableState>
  views: Map<string, ViewState>
  /** `table.column` → names of check constraints `column is not null`, and whether each is validated. */
  notNullChecks: Map<string, Map<string, boolean>>
}

export function emptyState(): SchemaState {
  return { tables: new Map(), views: new Map(), notNullChecks: new Map() }
}

export function typeOf(typeName: AstNode | undefined): ColumnType {
  const names = (typeName?.names ?? []) as AstNode[]
  const name = (names[names.length - 1]?.String?.sval as string | undefined) ?? '?'
  const modifiers = ((typeName?.typmods ?? []) as AstNode[]).map((item) =>
    Number(item.A_Const?.ival?.ival ?? Number.NaN),
  )
  return { name, modifiers }
}

export function written(type: ColumnType): string {
  return type.modifiers.length > 0 ? `${type.name}(${type.modifiers.join(', ')})` : type.name
}

/** Changes PostgreSQL makes without rewriting: a longer varchar, varchar to text, more numeric precision. */
export function widens(before: ColumnType, after: ColumnType): boolean {
  const text = (name: string) => name === 'text' || name === 'varchar'
  if (text(before.name) && after.name === 'text') return true
  if (text(before.name) && after.name === 'varchar') {
    if (after.modifiers.length === 0) return true
    return before.name === 'varchar' && before.modifiers.length > 0 && after.modifiers[0]! >= before.modifiers[0]!
  }
  if (before.name === 'numeric' && after.name === 'numeric') {
    if (after.modifiers.length === 0) return true
    const [precision = 0, scale = 0] = before.modifiers
    const [newPrecision = 0, newScale = 0] = after.modifiers
    return before.modifiers.length > 0 && newScale === scale && newPrecision >= precision
  }
  return false
}

/** The relations and column names a view's query names (best effort: names, not resolved). */
export function viewOf(query: AstNode): ViewState {
  const view: ViewState = { relations: new Set(), columns: new Set(), star: false }
  walk(query, (node) => {
    if (node.RangeVar) view.relations.add(node.RangeVar.relname)
    if (node.ColumnRef) {
      const fields = node.ColumnRef.fields as AstNode[]
      const last = fields[fields.length - 1]
      if (last?.A_Star) view.star = true
      else if (last?.String) view.columns.add(last.String.sval)
    }
  })
  return view
}

export function viewsNaming(state: SchemaState, table: string, column?: string): string[] {
  const views: string[] = []
  for (const [name, view] of state.views) {
    if (!view.relations.has(table)) continue
    if (column === undefined || view.star || view.columns.has(column)) views.push(name)
  }
  return views
}

export function walk(node: unknown, visit: (node: AstNode) => void): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, visit)
  } else if (node !== null && typeof node === 'object') {
    visit(node as AstNode)
    for (const value of Object.values(node)) walk(value, visit)
  }
}
