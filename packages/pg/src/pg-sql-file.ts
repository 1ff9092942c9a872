import { defineMigration, FluxError, type MigrationContext, type MigrationDefinition } from '@flux/core'
import { deferOf, type PgClient } from './pg-client.ts'
import { type SqlDirective, type SqlStatement, SqlSyntaxError, scanSql } from './pg-sql-split.ts'

/** File extension of SQL migrations. */
export const SQL_MIGRATION_EXTENSION = '.sql'

/** The statements of an SQL migration, for `flux plan --sql`. */
export interface SqlMigrationScript {
  up: SqlStatement[]
  /** Absent when the file has no `-- flux:down` section. */
  down?: SqlStatement[]
}

const SQL = Symbol.for('flux.pg.sql')
const HEADER = ['store', 'parents', 'after', 'transaction', 'repeatable'] as const
type HeaderName = (typeof HEADER)[number]

/**
 * Reads an SQL migration: header comments carry the metadata, `-- flux:up` and
 * `-- flux:down` start the two sections. Statements run one by one through `ctx.store`,
 * and an SQL error is reported as `<file>:<line>: <message>`. A remark may follow a
 * directive's value, in parentheses or after `--`.
 *
 * @example
 * ```sql
 * -- flux:store catalog
 * -- flux:parents 20260101000000_init
 * -- flux:transaction off        (for CREATE INDEX CONCURRENTLY; default on)
 * -- flux:up
 * create index concurrently hotel_name on hotel (name);
 * -- flux:down
 * drop index concurrently hotel_name;
 * ```
 */
export function loadSqlMigration(file: string, text: string): MigrationDefinition<PgClient> {
  const invalid = (
    line: number,
    message: string,
    hint = 'an SQL migration starts with `-- flux:store <name>`, then `-- flux:up` and its SQL, then optionally `-- flux:down` and its SQL',
  ) => new FluxError('MIGRATION_INVALID', `${file}:${line}: ${message}`, { file, hint })
  let scanned: ReturnType<typeof scanSql>
  try {
    scanned = scanSql(text)
  } catch (error) {
    if (error instanceof SqlSyntaxError) throw invalid(error.line, error.message, error.hint)
    throw error
  }
  const { statements } = scanned
  const directives = scanned.directives.map(withoutRemark)
  const header = new Map<HeaderName, SqlDirective>()
  let up: SqlDirective | undefined
  let down: SqlDirective | undefined
  for (const directive of directives) {
    const name = directive.name
    if (name === 'up' || name === 'down') {
      if (directive.value !== '') throw invalid(directive.line, `\`-- flux:${name}\` takes nothing after it`)
      if (name === 'up' ? up : down) throw invalid(directive.line, `a second \`-- flux:${name}\``)
      if (name === 'down' && !up) throw invalid(directive.line, '`-- flux:down` comes before `-- flux:up`')
      if (name === 'up' && directive.statementsBefore > 0) {
        throw invalid(statements[0]!.line, 'SQL before `-- flux:up`; put it in the up section')
      }
      if (name === 'up') up = directive
      else down = directive
      continue
    }
    if (!(HEADER as readonly string[]).includes(name)) {
      throw invalid(
        directive.line,
        `unknown directive \`-- flux:${name}\` (known: ${[...HEADER, 'up', 'down'].join(', ')})`,
      )
    }
    if (up) throw invalid(directive.line, `\`-- flux:${name}\` belongs in the header, before \`-- flux:up\``)
    if (header.has(name as HeaderName)) throw invalid(directive.line, `a second \`-- flux:${name}\``)
    header.set(name as HeaderName, directive)
  }
  if (!up) throw invalid(1, 'no `-- flux:up` section')
  const store = header.get('store')
  if (!store || !/^\S+$/.test(store.value)) {
    throw invalid(store?.line ?? 1, 'no store: the header needs `-- flux:store <name>`')
  }
  const script: SqlMigrationScript = {
    up: statements.slice(up.statementsBefore, down?.statementsBefore ?? statements.length),
  }
  if (down) script.down = statements.slice(down.statementsBefore)

  const definition: MigrationDefinition<PgClient> = {
    store: store.value,
    up: (context) => run(context, file, script.up),
  }
  const list = (name: 'parents' | 'after') => {
    const directive = header.get(name)
    if (directive) definition[name] = directive.value.split(/[\s,]+/).filter((item) => item !== '')
  }
  list('parents')
  list('after')
  const transaction = header.get('transaction')
  if (transaction) definition.transaction = flag(transaction, { on: true, off: false, true: true, false: false })
  const repeatable = header.get('repeatable')
  if (repeatable) definition.repeatable = flag(repeatable, { true: true, false: false, always: 'always' })
  if (script.down) {
    const statementsDown = script.down
    definition.down = (context) => run(context, file, statementsDown)
  }
  definition.sql = { up: script.up.map((statement) => statement.text) }
  if (script.down) definition.sql.down = script.down.map((statement) => statement.text)
  Object.defineProperty(definition, SQL, { value: script })
  return defineMigration(definition)

  function flag<T>(directive: SqlDirective, values: Record<string, T>): T {
    const value = values[directive.value.toLowerCase()]
    if (value === undefined) {
      throw invalid(directive.line, `\`-- flux:${directive.name}\` is one of ${Object.keys(values).join(', ')}`)
    }
    return value
  }
}

/**
 * A directive's value without a remark after it, `(…)` or `-- …` past a space:
 * `-- flux:transaction off   (CREATE INDEX CONCURRENTLY cannot run in a transaction)` is `off`.
 * No value of a directive holds a space followed by `(` or `--`, so the remark is unambiguous.
 */
function withoutRemark(directive: SqlDirective): SqlDirective {
  const value = directive.value.replace(/(^|\s+)(\(.*\)|--.*)$/, '')
  return value === directive.value ? directive : { ...directive, value }
}

/** The statements of a migration loaded by {@link loadSqlMigration}; `undefined` for any other. */
export function sqlOf(definition: MigrationDefinition): SqlMigrationScript | undefined {
  return (definition as unknown as Record<symbol, SqlMigrationScript | undefined>)[SQL]
}

/**
 * Runs the statements: in a server transaction, queued to go with the ledger write and COMMIT
 * in one round trip (their failure then fails the commit); elsewhere one by one, stopping
 * between them when the run is cancelled.
 */
async function run(context: MigrationContext<PgClient>, file: string, statements: SqlStatement[]): Promise<void> {
  const defer = deferOf(context.store)
  if (defer) {
    context.signal.throwIfAborted()
    for (const statement of statements) defer(statement.text, (error) => sqlError(file, statement, error))
    return
  }
  for (const statement of statements) {
    context.signal.throwIfAborted()
    try {
      await context.store.query(statement.text)
    } catch (error) {
      throw sqlError(file, statement, error)
    }
  }
}

/** `<file>:<line>: <message>`, the line being where the error is, when PostgreSQL says. */
export function sqlError(file: string, statement: SqlStatement, error: unknown): FluxError {
  const position = Number((error as { position?: unknown }).position)
  // PostgreSQL counts characters, not UTF-16 code units
  const before = Number.isInteger(position) && position > 0 ? [...statement.text].slice(0, position - 1).join('') : ''
  const line = statement.line + (before.match(/\n/g)?.length ?? 0)
  const code = (error as { code?: unknown }).code
  // active_sql_transaction: CREATE INDEX CONCURRENTLY, VACUUM… refuse to run in a transaction
  const advice = code === '25001' ? ' (put `-- flux:transaction off` in the header of the file)' : ''
  return new FluxError('MIGRATION_FAILED', `${file}:${line}: ${(error as Error).message}${advice}`, {
    file,
    details: typeof code === 'string' ? { sqlState: code, line } : { line },
    cause: error,
  })
}
