import { type BatchOptions, type BatchOutcome, FluxError } from '@flux/core'
import pg from 'pg'
import type { PgResult, Queryable } from './pg-client.ts'
import { mayDropPrepared, type TransactionConnections } from './pg-connections.ts'
import { DEFAULT_DURABLE_EVERY_MS } from './pg-options.ts'

/** A statement queued by `defer()`, sent with the next query or with COMMIT. */
interface Queued {
  text: string
  /** Index of the transaction of the batch it belongs to. */
  owner: number
  /** Makes its failure (`position` counted from this statement) the error to throw; absent: the driver's error. */
  onError?: ((error: unknown) => unknown) | undefined
  /** Called once the statement ran. */
  onRan?: (() => void) | undefined
  /** A transaction's COMMIT. */
  commit?: true
}

/** A script is sent once it holds this many transactions, or this many characters. */
const SCRIPT_TRANSACTIONS = 32
const SCRIPT_LENGTH = 1 << 18

/**
 * Sent before each COMMIT of a script but its last: that commit does not wait for its WAL to
 * reach the disk. PostgreSQL writes the WAL in order, so the script's last commit, which
 * waits (as the session's `synchronous_commit` says), makes every one before it durable too.
 * A session whose `synchronous_commit` is already off stays as it is.
 */
const ASYNC_COMMIT = 'SET LOCAL synchronous_commit = off'

/**
 * Makes the commits before it durable after a script stopped between an asynchronous commit
 * and the one that waits: a transaction that writes WAL (a transactional logical decoding
 * message, which no table holds and no reader sees unless it asks for messages), committed
 * with the session's `synchronous_commit`, flushes the WAL up to its own commit record. A
 * transaction that writes no WAL waits for nothing, so a plain `select` would not do.
 */
const FLUSH = `select pg_logical_emit_message(true, 'flux', 'flush') where current_setting('synchronous_commit') <> 'off'`
/** How long to wait, where FLUSH is refused, for the WAL writer to flush the commits (it does every 200 ms by default). */
const FLUSH_WAIT_MS = 5000

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
  let result: T | undefined
  const outcome = await serverBatch(connections, [
    async (connection) => {
      result = await fn(connection)
    },
  ])
  if (outcome.failed) throw outcome.failed.error
  return result as T
}

/**
 * Transactions one after another on one connection, each as {@link serverTransaction} runs
 * one, but with COMMIT queued too: a run of SQL migrations goes to the server as scripts of
 * several, `BEGIN; …; COMMIT; BEGIN; …; COMMIT; …`, the next one built while the server runs
 * the one before. PostgreSQL runs a script's statements in order and stops at the first that
 * fails: the transactions before it are committed, its own is rolled back, and no later
 * script is sent. Which one failed, and so how many committed, is told by the statements
 * that completed before the failure. A syntax error is found before anything of the script
 * runs: the transactions before the one that has it are then sent again without it.
 */
export async function serverBatch(
  connections: TransactionConnections,
  fns: ReadonlyArray<(connection: Queryable) => Promise<void>>,
  options: BatchOptions & {
    /**
     * While the batch runs, its commits are made durable (a script's last commit waits for the
     * disk) at most this long apart, and at its end: a batch of a thousand migrations waits for
     * the disk a few times, not once per script, and what the user sees applied still moves on.
     */
    durableEveryMs?: number
  } = {},
): Promise<BatchOutcome> {
  const durableEveryMs = options.durableEveryMs ?? DEFAULT_DURABLE_EVERY_MS
  const client = await connections.take()
  let pending: Queued[] = []
  let pendingLength = 0
  let pendingTransactions = 0
  // set by scripts as they come back, so read anew after every await
  const state: { failed: BatchOutcome['failed'] } = { failed: undefined }
  // the script the server is running, resolving to whether it succeeded
  let inflight: Promise<boolean> | undefined
  // a transaction is open on the server: BEGIN ran, and neither COMMIT nor a failure ended it
  let open = false
  let committed = 0
  // how many committed and are known to be on disk: reported, and the outcome once the server is lost
  let durable = 0
  let broken: Error | undefined
  // the server or the connection failed (not a statement): commits not known durable may be lost
  let lost: Error | undefined
  // the transaction being built, where its statements start in `pending`, and whether some were sent
  let current = 0
  let from = 0
  let sentSome = false
  // a statement of a migration may drop prepared statements: none are used, and all are forgotten after
  let dropsPrepared = false
  const preparing = new Set<string>()

  const queue = (text: string, onError?: Queued['onError'], onRan?: Queued['onRan']) => {
    pending.push({ text, owner: current, onError, onRan })
    pendingLength += text.length
  }
  /** `error` as the transaction's, `raw` as the driver gave it (a statement's error, or the connection's). */
  const fail = (index: number, error: unknown, raw: unknown = error) => {
    state.failed ??= { index, error }
    if (!(raw instanceof pg.DatabaseError)) broken ??= raw as Error
  }
  /** {@link fail} for a failure the server or the driver reported. */
  const failSent = (index: number, error: unknown, raw: unknown) => {
    fail(index, error, raw)
    const ofStatement = raw instanceof pg.DatabaseError && raw.severity !== 'FATAL' && raw.severity !== 'PANIC'
    if (!ofStatement) lost ??= raw as Error
  }

  /** Runs what is queued as one script, after the one in flight; its results, or `undefined` once something failed. */
  const run = async (statements: Queued[], results: boolean): Promise<pg.QueryResult[] | undefined> => {
    if (inflight && !(await inflight)) return undefined
    const sent = await runScript(client, statements, results)
    if ('error' in sent) {
      const { owner } = sent.statement
      if (sent.completed === 0 && owner > statements[0]!.owner) {
        // a syntax error fails the whole script before any of it runs: the transactions
        // before the one that has it are sent again without it, as if each had gone alone
        const retried = await runScript(
          client,
          statements.filter((statement) => statement.owner < owner),
          false,
        )
        if ('error' in retried) {
          failSent(retried.statement.owner, retried.error, retried.raw)
          return undefined
        }
      }
      failSent(owner, sent.error, sent.raw)
      return undefined
    }
    // told once the next script is on its way (after this turn's promise jobs), so that the
    // server is not kept waiting while the caller reports
    const count = durable
    if (options.onCommit && count > told) {
      told = count
      setImmediate(() => options.onCommit!(count))
    }
    return sent.results
  }
  let durableAt = performance.now()
  /** The last count told to onCommit. */
  let told = 0
  const takePending = (final: boolean) => {
    const waits = final || performance.now() - durableAt >= durableEveryMs
    const statements = durableAtEnd(
      pending,
      waits
        ? () => {
            durable = committed
            durableAt = performance.now()
          }
        : undefined,
    )
    pending = []
    pendingLength = 0
    pendingTransactions = 0
    from = 0
    return statements
  }
  /** Sends what is queued once the script in flight is back, without waiting for it to run; `final`: the batch's last. */
  const dispatch = async (final = false) => {
    if (inflight && !(await inflight)) return
    if (pending.length === 0) return
    if (options.signal?.aborted) {
      // built, but not sent: the run was cancelled meanwhile
      state.failed ??= { index: pending[0]!.owner, error: options.signal.reason }
      return
    }
    const script = run(takePending(final), false)
    inflight = script.then((results) => results !== undefined)
  }
  /** Sends what is queued, a statement of the transaction being built last, and waits for its results. */
  const send = (): Promise<pg.QueryResult[] | undefined> => {
    sentSome = true
    const script = run(takePending(false), true)
    inflight = script.then((results) => results !== undefined)
    return script
  }

  const connection: Queryable = {
    async query<Row>(text: string, params?: readonly unknown[]): Promise<PgResult<Row>> {
      if (state.failed) throw state.failed.error
      if (mayDropPrepared(text)) dropsPrepared = true
      const values = params as unknown[] | undefined
      let result: pg.QueryResult | undefined
      if (values && values.length > 0) {
        if (pending.length > 0) await send()
        else if (inflight) await inflight
        const failed = state.failed as BatchOutcome['failed']
        if (failed) throw failed.error
        try {
          result = await client.query(text, values)
        } catch (error) {
          failSent(current, error, error)
          throw error
        }
      } else {
        // the caller's own statement: its error keeps a position counted from its text
        queue(text, (error) => error)
        const results = await send()
        if (!results) throw state.failed!.error
        result = results[results.length - 1]
      }
      return { rows: (result?.rows ?? []) as Row[], rowCount: result?.rowCount ?? 0 }
    },
    defer(text, onError) {
      if (state.failed) return
      if (onError && mayDropPrepared(text)) dropsPrepared = true
      queue(text, onError)
    },
    holdsDeferredWork() {
      // the server's clock times the statements from the start of the script they go in: only
      // those of its first transaction (the others' time would include the ones before them)
      if (from > 0) return false
      for (let index = 0; index < pending.length; index++) if (pending[index]!.onError) return true
      return false
    },
    prepared(key, definition) {
      const statement = dropsPrepared ? undefined : connections.statement(client, key)
      if (!statement) return undefined
      const { name } = statement
      if (!statement.prepared && !preparing.has(name)) {
        preparing.add(name)
        queue(`prepare ${name} ${definition}`, undefined, () => connections.prepared(client, name))
      }
      return name
    },
  }

  try {
    for (const [index, fn] of fns.entries()) {
      if (state.failed) break
      current = index
      from = pending.length
      sentSome = false
      queue('BEGIN', undefined, () => {
        open = true
      })
      let thrown: { error: unknown } | undefined
      try {
        await fn(connection)
      } catch (error) {
        thrown = { error }
      }
      const failed = state.failed as BatchOutcome['failed']
      if (failed) {
        if (failed.index === index) {
          // what fn made of its own failure; or fn caught an SQL error and went on
          failed.error = thrown
            ? thrown.error
            : new FluxError('STORE_ERROR', 'the transaction was rolled back: a statement in it failed', {
                hint: 'a migration caught an SQL error and went on; let the error through so it is reported',
                cause: failed.error,
              })
        }
        break
      }
      if (thrown) {
        // nothing of it is sent; the transactions before it, still queued, are
        pending.length = from
        if (!sentSome) await dispatch()
        await inflight
        fail(index, thrown.error)
        break
      }
      if (!sentSome && pending.length === from + 1) {
        // nothing sent and nothing to write: nothing to commit
        pending.pop()
        continue
      }
      queue('COMMIT', undefined, () => {
        open = false
        committed = index + 1
      })
      pending[pending.length - 1]!.commit = true
      pendingTransactions += 1
      if (pendingTransactions >= SCRIPT_TRANSACTIONS || pendingLength >= SCRIPT_LENGTH) await dispatch()
    }
    if (!state.failed) await dispatch(true)
    await inflight
  } catch (error) {
    // the driver failed outside a query (it should not): the connection is not to be trusted
    failSent(current, error, error)
    broken = error as Error
    lost = error as Error
    await inflight?.catch(() => {})
  } finally {
    if (state.failed && open && !broken) {
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError
      })
    }
    if (!broken && durable < committed) {
      // the batch stopped (or its last transaction had nothing to commit) after commits that did
      // not wait for the disk: they are made durable before they are told
      await flush(client).then(
        () => {
          durable = committed
        },
        (flushError: Error) => {
          broken = flushError
          lost = flushError
          state.failed ??= { index: durable, error: flushError }
        },
      )
    }
    if (state.failed && lost && durable < state.failed.index) {
      // the server may have lost the commits that did not wait for the disk: which did is unknown
      state.failed = { index: durable, error: lost }
    }
    // invalid_sql_statement_name: a prepared statement was dropped behind flux's back
    if (dropsPrepared || (state.failed?.error as { code?: unknown } | undefined)?.code === '26000') connections.forget()
    // a connection that could not roll back is destroyed, never reused
    connections.give(client, broken)
  }
  // every statement before the one that failed ran, the COMMITs of the transactions before its own too
  return state.failed ? { committed: state.failed.index, failed: state.failed } : { committed: fns.length }
}

const SEPARATOR = ';\n'

/**
 * The script's statements with {@link ASYNC_COMMIT} before each COMMIT but the last, and
 * `onDurable` called once that last one ran; without `onDurable`, before every COMMIT.
 */
function durableAtEnd(statements: Queued[], onDurable: (() => void) | undefined): Queued[] {
  let last = -1
  for (let index = statements.length - 1; onDurable && index >= 0; index--) {
    if (statements[index]!.commit) {
      last = index
      break
    }
  }
  if (last < 0 && onDurable) return statements
  const script: Queued[] = []
  for (let index = 0; index < statements.length; index++) {
    const statement = statements[index]!
    if (index === last) {
      const { onRan } = statement
      script.push({
        ...statement,
        onRan: () => {
          onRan?.()
          onDurable!()
        },
      })
    } else {
      if (statement.commit) script.push({ text: ASYNC_COMMIT, owner: statement.owner })
      script.push(statement)
    }
  }
  return script
}

/** Makes every commit of the session durable ({@link FLUSH}), or waits for the WAL writer where the server refuses it. */
async function flush(client: pg.PoolClient): Promise<void> {
  try {
    await client.query(FLUSH)
    return
  } catch (error) {
    if (!(error instanceof pg.DatabaseError) || error.severity === 'FATAL' || error.severity === 'PANIC') throw error
  }
  const { rows } = await client.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn')
  const deadline = Date.now() + FLUSH_WAIT_MS
  for (;;) {
    const { rows: flushed } = await client.query<{ done: boolean }>(
      'select pg_current_wal_flush_lsn() >= $1::pg_lsn as done',
      [rows[0]!.lsn],
    )
    if (flushed[0]!.done) return
    if (Date.now() > deadline) throw new Error('the server did not flush its WAL to disk within 5 s')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** What a script gave: every statement's result, or the error of the one that failed and how many completed before it. */
type ScriptResult = { results: pg.QueryResult[] } | { error: unknown; raw: Error; statement: Queued; completed: number }

/**
 * Sends the statements as one simple-protocol query (`results`: keep every statement's
 * result, else none). PostgreSQL stops at the first that
 * fails; which one it was is told by the error's position (a syntax error fails the whole
 * text before anything runs) or else by how many statements completed before it. That
 * statement's `onError` makes the error returned, its position counted from the statement.
 */
function runScript(client: pg.PoolClient, statements: Queued[], results: boolean): Promise<ScriptResult> {
  const text = statements.map((statement) => statement.text).join(SEPARATOR)
  return new Promise((resolve) => {
    let completed = 0
    const query = new pg.Query(text, (error: Error | undefined, result: unknown) => {
      const ran = error ? completed : statements.length
      for (let index = 0; index < ran; index++) statements[index]!.onRan?.()
      if (!error) {
        resolve({ results: !results ? [] : Array.isArray(result) ? result : [result as pg.QueryResult] })
        return
      }
      resolve(blame(statements, text, error, completed))
    })
    // the driver's hook for each completed statement (pg-cursor and pg-query-stream implement it too)
    const hooks = query as unknown as { handleCommandComplete(...args: unknown[]): void }
    const handle = hooks.handleCommandComplete.bind(query)
    hooks.handleCommandComplete = (...args) => {
      completed += 1
      // without `results`, nobody reads them: the driver builds none
      if (results) handle(...args)
    }
    client.query(query)
  })
}

function blame(statements: Queued[], text: string, error: Error, completed: number): ScriptResult {
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
  // a connection that failed is no statement's error, not even a migration's
  const ofStatement = error instanceof pg.DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC'
  if (!statement.onError || !ofStatement) {
    // a statement of flux's own (BEGIN, the ledger write, COMMIT), or a lost connection: no position for a user
    holder.position = undefined
    return { error, raw: error, statement, completed }
  }
  return { error: statement.onError(error), raw: error, statement, completed }
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
