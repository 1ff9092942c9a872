import { FluxError } from '@flux/core'
import pg from 'pg'
import type { PgResult, Queryable } from './pg-client.ts'
import { mayDropPrepared, type TransactionConnections } from './pg-connections.ts'

/** A statement queued by `defer()`, sent with the next query or with COMMIT. */
interface Queued {
  text: string
  /** Makes its failure (`position` counted from this statement) the error to throw; absent: the driver's error. */
  onError?: ((error: unknown) => unknown) | undefined
  /** Called once the statement ran. */
  onRan?: () => void
}

/**
 * A transaction on one server connection, in as few round trips as the protocol allows:
 * statements queued with `defer()` (BEGIN, the statements of an SQL migration, the ledger
 * write) are sent in front of the next statement without parameters, or with COMMIT, as one
 * simple-protocol query. So an SQL migration costs one round trip,
 * `BEGIN; <its statements>; <ledger write>; COMMIT`; a migration that reads what its queries
 * return costs one per query, BEGIN riding with the first and the ledger write with COMMIT.
 */
export async function serverTransaction<T>(
  connections: TransactionConnections,
  fn: (connection: Queryable) => Promise<T>,
): Promise<T> {
  const client = await connections.take()
  let pending: Queued[] = [{ text: 'BEGIN' }]
  let begun = false
  // a statement of the migration may drop prepared statements: none are used, and all are forgotten after
  let dropsPrepared = false
  const preparing = new Set<string>()

  const send = async (text: string, params?: readonly unknown[]): Promise<pg.QueryResult> => {
    const queued = pending
    pending = []
    begun = true
    if (mayDropPrepared(text)) dropsPrepared = true
    const values = params as unknown[] | undefined
    if (queued.length === 0) return client.query(text, values)
    if (values && values.length > 0) {
      await simpleQuery(client, queued)
      return client.query(text, values)
    }
    // the caller's own statement: its error keeps a position counted from its text
    return lastOf(await simpleQuery(client, [...queued, { text, onError: (error) => error }]))
  }

  const connection: Queryable = {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<PgResult<Row>> {
      const result = lastOf(await send(text, params))
      return { rows: (result?.rows ?? []) as Row[], rowCount: result?.rowCount ?? 0 }
    },
    defer(text, onError) {
      if (onError && mayDropPrepared(text)) dropsPrepared = true
      pending.push({ text, onError })
    },
    holdsDeferredWork: () => pending.some((statement) => statement.onError !== undefined),
    prepared(key, definition) {
      const statement = dropsPrepared ? undefined : connections.statement(client, key)
      if (!statement) return undefined
      const { name } = statement
      if (!statement.prepared && !preparing.has(name)) {
        preparing.add(name)
        pending.push({ text: `prepare ${name} ${definition}`, onRan: () => connections.prepared(client, name) })
      }
      return name
    },
  }

  let broken: Error | undefined
  try {
    const result = await fn(connection)
    // nothing sent and nothing to write: nothing to commit
    if (!begun && pending.length === 1) return result
    const commit = await send('COMMIT')
    // COMMIT of a transaction in which a statement failed (and fn caught it) rolls back
    if (commit.command === 'ROLLBACK') {
      throw new FluxError('STORE_ERROR', 'the transaction was rolled back: a statement in it failed', {
        hint: 'a migration caught an SQL error and went on; let the error through so it is reported',
      })
    }
    return result
  } catch (error) {
    if (begun) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError
      })
    }
    // invalid_sql_statement_name: a prepared statement was dropped behind flux's back
    if ((error as { code?: unknown }).code === '26000') connections.forget()
    throw error
  } finally {
    if (dropsPrepared) connections.forget()
    // a connection that could not roll back is destroyed, never reused
    connections.give(client, broken)
  }
}

/** A script of several statements gives one result per statement: the last is the caller's. */
function lastOf(result: pg.QueryResult | pg.QueryResult[]): pg.QueryResult {
  return Array.isArray(result) ? result[result.length - 1]! : result
}

const SEPARATOR = ';\n'

/**
 * Sends the statements as one simple-protocol query. PostgreSQL stops at the first that
 * fails; which one it was is told by the error's position (a syntax error fails the whole
 * text before anything runs) or else by how many statements completed before it. That
 * statement's `onError` makes the error thrown, its position counted from the statement.
 */
function simpleQuery(client: pg.PoolClient, statements: Queued[]): Promise<pg.QueryResult | pg.QueryResult[]> {
  const text = statements.map((statement) => statement.text).join(SEPARATOR)
  return new Promise((resolve, reject) => {
    let completed = 0
    const query = new pg.Query(text, (error: Error | undefined, result: unknown) => {
      const ran = error ? completed : statements.length
      for (let index = 0; index < ran; index++) statements[index]!.onRan?.()
      if (!error) resolve(result as pg.QueryResult | pg.QueryResult[])
      else reject(blame(statements, text, error, completed))
    })
    // the driver's hook for each completed statement (pg-cursor and pg-query-stream implement it too)
    const hooks = query as unknown as { handleCommandComplete(...args: unknown[]): void }
    const handle = hooks.handleCommandComplete.bind(query)
    hooks.handleCommandComplete = (...args) => {
      completed += 1
      handle(...args)
    }
    client.query(query)
  })
}

function blame(statements: Queued[], text: string, error: Error, completed: number): unknown {
  const holder = error as Error & { position?: string | undefined }
  const position = Number(holder.position)
  let index = Math.min(completed, statements.length - 1)
  if (Number.isInteger(position) && position > 0) {
    // PostgreSQL counts characters, not UTF-16 code units
    const at = codeUnitIndex(text, position - 1)
    let start = 0
    for (index = 0; index < statements.length - 1; index++) {
      const end = start + statements[index]!.text.length + SEPARATOR.length
      if (at < end) break
      start = end
    }
    const length = statements[index]!.text.length
    holder.position = at < start + length ? String(codePoints(text.slice(start, at)) + 1) : undefined
  }
  const statement = statements[index]!
  if (!statement.onError) {
    // a statement of flux's own (BEGIN, the ledger write, COMMIT): a position in it means nothing to a user
    holder.position = undefined
    return error
  }
  return statement.onError(error)
}

/** The UTF-16 index of the character at `characters` (0-based) in `text`. */
function codeUnitIndex(text: string, characters: number): number {
  let index = 0
  for (let count = 0; count < characters && index < text.length; count++) {
    index += (text.codePointAt(index) ?? 0) > 0xffff ? 2 : 1
  }
  return index
}

function codePoints(text: string): number {
  let count = 0
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index)
    if (code < 0xd800 || code > 0xdbff) count += 1
  }
  return count
}
