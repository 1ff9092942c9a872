import { FluxError } from '@flux/core'
import type pg from 'pg'
import type { PgResult, Queryable } from './pg-client.ts'

/**
 * A transaction on one server connection, in as few round trips as the protocol allows:
 * statements queued with `defer()` (BEGIN, then the ledger write) are sent in front of the
 * next statement without parameters, or with COMMIT, as one simple-protocol query. So a
 * one-statement migration costs two round trips — `BEGIN; <statement>` and
 * `<ledger write>; COMMIT` — where sending each alone would cost four.
 */
export async function serverTransaction<T>(pool: pg.Pool, fn: (connection: Queryable) => Promise<T>): Promise<T> {
  const client = await pool.connect()
  let pending = ['BEGIN']
  let begun = false

  const send = async (text: string, params?: readonly unknown[]): Promise<pg.QueryResult> => {
    const prefix = pending.length > 0 ? `${pending.join(';\n')};\n` : ''
    pending = []
    begun = true
    const values = params as unknown[] | undefined
    if (prefix === '') return client.query(text, values)
    if (values && values.length > 0) {
      await client.query(prefix)
      return client.query(text, values)
    }
    try {
      return lastOf(await client.query(prefix + text))
    } catch (error) {
      throw shiftPosition(error, prefix)
    }
  }

  const connection: Queryable = {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<PgResult<Row>> {
      const result = lastOf(await send(text, params))
      return { rows: (result?.rows ?? []) as Row[], rowCount: result?.rowCount ?? 0 }
    },
    defer(text) {
      pending.push(text)
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
    throw error
  } finally {
    // a connection that could not roll back is destroyed, never reused
    client.release(broken)
  }
}

/** A script of several statements gives one result per statement: the last is the caller's. */
function lastOf(result: pg.QueryResult | pg.QueryResult[]): pg.QueryResult {
  return Array.isArray(result) ? result[result.length - 1]! : result
}

/** Makes the error's position (in characters) count from the caller's statement, not from the prefix. */
function shiftPosition(error: unknown, prefix: string): unknown {
  const holder = error as { position?: string }
  const position = Number(holder?.position)
  if (Number.isInteger(position)) {
    const shifted = position - [...prefix].length
    holder.position = shifted > 0 ? String(shifted) : undefined
  }
  return error
}
