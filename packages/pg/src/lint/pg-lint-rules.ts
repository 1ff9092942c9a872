/**
 * The lint rules: each looks at one parsed statement (libpg-query's JSON tree) with what the
 * store's earlier statements created, and reports what takes a long lock or destroys data.
 */

import {
  type AstNode,
  type ColumnType,
  type SchemaState,
  typeOf,
  viewOf,
  viewsNaming,
  walk,
  widens,
  written,
} from './pg-lint-schema.ts'

/** The rules, with their severity and the safe alternative each one names. */
export const LINT_RULES = {
  'index-not-concurrent': {
    severity: 'error',
    hint: 'use `create index concurrently` in a migration of its own with `-- flux:transaction off` (schemaMigration: `createIndex(…, { concurrently: true })` with `transaction: false`), which lets writes go on while it builds',
  },
  'volatile-default': {
    severity: 'error',
    hint: 'add the column without a default (or with a constant one), then `alter column … set default …` for new rows, and fill the existing rows in batches (a data migration)',
  },
  'column-type-rewrite': {
    severity: 'error',
    hint: 'add a new column of the new type, copy the rows in batches and keep it in step (a trigger), then switch the application over and drop the old column; widening `varchar(n)` to a longer `varchar` or to `text` needs no rewrite',
  },
  'not-null-without-check': {
    severity: 'error',
    hint: 'first `add constraint <name> check (<column> is not null) not valid`, then in a later migration `validate constraint <name>` (no write lock), then `set not null`, which then skips the scan (PostgreSQL 12+)',
  },
  'drop-data': {
    severity: 'warning',
    hint: 'drop it in a release after the application stops reading and writing it, and keep a copy if in doubt: a down cannot bring the rows back',
  },
  'drop-without-down': {
    severity: 'error',
    hint: 'give the migration a down that recreates what it drops, and copy the rows first if they may be needed again',
  },
  'drop-used-by-view': {
    severity: 'error',
    hint: 'drop or replace the view first, in the same migration, then drop what it named (`cascade` would drop the view silently)',
  },
} as const

export type LintRule = keyof typeof LINT_RULES

/** What a rule found in one statement. */
export interface RuleFinding {
  rule: LintRule | 'lint-ignore' | 'syntax'
  message: string
}

/** Where a statement is: the migration's direction, what it created so far, whether it has a down. */
export interface StatementContext {
  direction: 'up' | 'down'
  /** Tables created earlier in this section: new and empty, nothing to lock for long. */
  createdHere: Set<string>
  hasDown: boolean
}

// functions a default must not call on an existing table: PostgreSQL 11+ stores a constant
// (immutable or stable, like now()) default without rewriting, but evaluates these per row
const VOLATILE = new Set([
  'random',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'uuidv4',
  'uuidv7',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'setseed',
  'txid_current',
  'random_normal',
])
const SERIAL = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial'])

/** Checks one statement, and records what it creates or drops in `state`. */
export function checkStatement(node: AstNode, state: SchemaState, context: StatementContext): RuleFinding[] {
  const findings: RuleFinding[] = []
  const report = (rule: RuleFinding['rule'], message: string) => findings.push({ rule, message })
  const up = context.direction === 'up'
  const isNew = (table: string) => context.createdHere.has(table)
  const dropped = (table: string, what: string, views: string[]) => {
    // a table this section created holds nothing yet
    if (isNew(table)) return
    if (up && !context.hasDown) report('drop-without-down', `${what}, and the migration has no down`)
    else if (up) report('drop-data', `${what}: its data is lost`)
    if (up && views.length > 0) {
      report(
        'drop-used-by-view',
        `${what}, still named by view${views.length > 1 ? 's' : ''} ${views.map((view) => `"${view}"`).join(', ')}`,
      )
    }
  }

  if (node.CreateStmt) {
    const table = node.CreateStmt.relation.relname as string
    context.createdHere.add(table)
    const columns = new Map<string, ColumnType>()
    for (const element of node.CreateStmt.tableElts ?? []) {
      if (element.ColumnDef) columns.set(element.ColumnDef.colname, typeOf(element.ColumnDef.typeName))
    }
    state.tables.set(table, { columns })
  } else if (node.CreateTableAsStmt) {
    const into = node.CreateTableAsStmt.into?.rel?.relname as string | undefined
    if (into && node.CreateTableAsStmt.objtype === 'OBJECT_MATVIEW') {
      state.views.set(into, viewOf(node.CreateTableAsStmt.query))
    } else if (into) {
      context.createdHere.add(into)
      state.tables.set(into, { columns: new Map() })
    }
  } else if (node.ViewStmt) {
    state.views.set(node.ViewStmt.view.relname, viewOf(node.ViewStmt.query))
  } else if (node.IndexStmt) {
    const index = node.IndexStmt
    const table = index.relation.relname as string
    if (!index.concurrent && !isNew(table)) {
      report(
        'index-not-concurrent',
        `\`create index${index.idxname ? ` ${index.idxname}` : ''}\` on existing table "${table}" without \`concurrently\` blocks writes to it while the index builds`,
      )
    }
  } else if (node.DropStmt) {
    const drop = node.DropStmt
    const names = (drop.objects ?? []).map((object: AstNode) => {
      const items = object.List?.items ?? []
      return items[items.length - 1]?.String?.sval as string
    })
    for (const name of names) {
      if (!name) continue
      if (drop.removeType === 'OBJECT_TABLE') {
        dropped(name, `drops table "${name}"`, viewsNaming(state, name))
        state.tables.delete(name)
      } else if (drop.removeType === 'OBJECT_VIEW' || drop.removeType === 'OBJECT_MATVIEW') {
        state.views.delete(name)
      }
    }
  } else if (node.AlterTableStmt && node.AlterTableStmt.objtype === 'OBJECT_TABLE') {
    const table = node.AlterTableStmt.relation.relname as string
    const known = state.tables.get(table)
    for (const { AlterTableCmd: command } of node.AlterTableStmt.cmds ?? []) {
      if (!command) continue
      switch (command.subtype) {
        case 'AT_AddColumn': {
          const column = command.def.ColumnDef
          const type = typeOf(column.typeName)
          known?.columns.set(column.colname, type)
          if (isNew(table)) break
          const volatile = SERIAL.has(type.name)
            ? `${type.name} (a nextval() default)`
            : volatileCallIn(defaultOf(column))
          if (volatile) {
            report(
              'volatile-default',
              `column "${column.colname}" added to existing table "${table}" with the volatile default ${volatile} rewrites the whole table under an exclusive lock`,
            )
          }
          break
        }
        case 'AT_AlterColumnType': {
          const column = command.name as string
          const definition = command.def.ColumnDef
          const type = typeOf(definition.typeName)
          const before = known?.columns.get(column)
          known?.columns.set(column, type)
          if (isNew(table)) break
          if (definition.raw_default || !before || !widens(before, type)) {
            report(
              'column-type-rewrite',
              `\`alter column "${column}" type ${written(type)}\` on existing table "${table}" ${before ? `(from ${written(before)}) ` : ''}rewrites the table under an exclusive lock`,
            )
          }
          break
        }
        case 'AT_SetNotNull': {
          const column = command.name as string
          const checks = state.notNullChecks.get(`${table}.${column}`)
          if (!isNew(table) && ![...(checks?.values() ?? [])].some((valid) => valid)) {
            report(
              'not-null-without-check',
              `\`alter column "${column}" set not null\` on existing table "${table}" scans the whole table under an exclusive lock, with no validated \`check ("${column}" is not null)\` before it`,
            )
          }
          break
        }
        case 'AT_AddConstraint': {
          const constraint = command.def.Constraint
          const column = constraint?.contype === 'CONSTR_CHECK' ? notNullColumn(constraint.raw_expr) : undefined
          if (column) {
            const key = `${table}.${column}`
            const checks = state.notNullChecks.get(key) ?? new Map<string, boolean>()
            checks.set(constraint.conname ?? '', constraint.skip_validation !== true)
            state.notNullChecks.set(key, checks)
          }
          break
        }
        case 'AT_ValidateConstraint': {
          for (const [key, checks] of state.notNullChecks) {
            if (key.startsWith(`${table}.`) && checks.has(command.name)) checks.set(command.name, true)
          }
          break
        }
        case 'AT_DropColumn': {
          const column = command.name as string
          dropped(table, `drops column "${column}" of table "${table}"`, viewsNaming(state, table, column))
          known?.columns.delete(column)
          break
        }
      }
    }
  }
  return findings
}

function defaultOf(column: AstNode): AstNode | undefined {
  for (const { Constraint: constraint } of column.constraints ?? []) {
    if (constraint?.contype === 'CONSTR_DEFAULT') return constraint.raw_expr
  }
  return undefined
}

/** The first call of a volatile function in an expression, as `random()`. */
function volatileCallIn(expression: AstNode | undefined): string | undefined {
  let found: string | undefined
  walk(expression, (node) => {
    const call = node.FuncCall
    if (!call || found) return
    const names = call.funcname as AstNode[]
    const name = names[names.length - 1]?.String?.sval as string
    if (VOLATILE.has(name)) found = `${name}()`
  })
  return found
}

/** `column is not null` (alone) → `column`. */
function notNullColumn(expression: AstNode | undefined): string | undefined {
  const test = expression?.NullTest
  if (test?.nulltesttype !== 'IS_NOT_NULL') return undefined
  const fields = (test.arg?.ColumnRef?.fields ?? []) as AstNode[]
  return fields[fields.length - 1]?.String?.sval
}
