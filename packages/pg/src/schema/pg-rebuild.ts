import { setTimeout as sleep } from 'node:timers/promises'
import {
  type CopyCheckpoint,
  type CopyResult,
  copy,
  type DataKey,
  type DataSource,
  DEFAULT_BATCH_SIZE,
  FluxError,
  type MigrationContext,
} from '@flux/core'
import { deferOf, type PgClient } from '../pg-client.ts'
import { pgRows } from '../pg-data.ts'
import {
  foreignKeysOf,
  grantsOf,
  hasMirror,
  indexesOf,
  obstaclesOf,
  oidOf,
  quoteIdentifier,
  type RebuiltTable,
  sequencesOf,
  suffixed,
  tableOf,
} from './pg-rebuild-catalog.ts'
import {
  changeOnNewTable,
  changeOperations,
  columnMapping,
  copyStatement,
  MIRROR_TRIGGER,
  namesOf,
  REBUILD_NEW_SUFFIX,
  type RebuildChange,
  type RebuildNames,
  setupStatements,
  swapScript,
} from './pg-rebuild-sql.ts'

/** How long the setup and the swap wait for their lock on the table, per try, unless `lockTimeoutMs` says otherwise. */
export const DEFAULT_REBUILD_LOCK_TIMEOUT_MS = 100
/** How many times the setup and the swap try to take their lock, unless `lockRetries` says otherwise. */
export const DEFAULT_REBUILD_LOCK_RETRIES = 50

export interface RebuildTableOptions {
  /** Rows copied per batch (one statement, one checkpoint). Default `DEFAULT_BATCH_SIZE` of `@flux/core` (1,000). */
  batchSize?: number
  /**
   * How long the setup (which adds the triggers) and the swap wait for their lock on the table,
   * per try: writers queue behind a waiting lock, so this bounds what they wait for. Default
   * {@link DEFAULT_REBUILD_LOCK_TIMEOUT_MS}.
   */
  lockTimeoutMs?: number
  /** Tries to take the lock before the rebuild fails (it resumes when run again). Default {@link DEFAULT_REBUILD_LOCK_RETRIES}. */
  lockRetries?: number
  /** A pause between batches, to leave a busy server room. Default `0`. */
  pauseMs?: number
}

/** What a rebuild did in this run. */
export interface RebuildResult {
  /** The copy in this run; `undefined` when an earlier run had already swapped the tables. */
  copied: CopyResult | undefined
  /** How long the swap's transaction took, lock wait included, in milliseconds (the last try's). */
  swapMs: number
  /** Tries it took to take the swap's lock. */
  lockTries: number
}

/** What a rebuild saves in the migration's checkpoint. */
export interface RebuildCheckpoint {
  /** The oid of the table being rebuilt: after the swap, that of `<table>__flux_old`. */
  table: number
  copy?: CopyCheckpoint
}

const LOCK_NOT_AVAILABLE = '55P03'
const DEADLOCK = '40P01'

/**
 * Rebuilds a table by move-and-copy, for a change that would otherwise hold a long lock on a
 * busy table (a column's type, a column with a volatile default, a new constraint checked on
 * every row): makes `<table>__flux_new` like the table with `change` applied, mirrors every
 * write on the table into it with a trigger, copies the rows in primary-key batches with the
 * data toolkit (a checkpoint per batch), then swaps the two in one short transaction. The old
 * table is kept as `<table>__flux_old` for a later migration to drop.
 *
 * Run it in a migration with `transaction: false` (or use {@link rebuildMigration}): the copy
 * commits batch by batch. Killed or failed at any step, the migration resumes where it stopped
 * when run again. It refuses, before it changes anything, a table that foreign keys of other
 * tables reference, that views read, that has triggers or row security policies of its own, or
 * no primary key: each would be left pointing at, or behind with, the old table.
 *
 * @example
 * ```ts
 * import { defineMigration } from '@flux/core'
 * import { type PgClient, rebuildTable } from '@flux/pg'
 *
 * export default defineMigration<PgClient>({
 *   store: 'catalog',
 *   transaction: false,
 *   up: (ctx) =>
 *     rebuildTable(ctx, 'hotel', (schema) => [
 *       schema.alterColumn('hotel', 'id', { type: 'bigint' }),
 *     ]),
 * })
 * ```
 */
export async function rebuildTable(
  context: Pick<MigrationContext<PgClient>, 'store' | 'checkpoint' | 'progress' | 'signal' | 'log'>,
  table: string,
  change: RebuildChange,
  options: RebuildTableOptions = {},
): Promise<RebuildResult> {
  const { store } = context
  const operations = changeOperations(table, change)
  if (deferOf(store)) {
    throw new FluxError(
      'MIGRATION_INVALID',
      `rebuildTable ${table}: the migration runs in a transaction, which would hold the copy's locks to its end`,
      { hint: 'give the migration `transaction: false` (or use rebuildMigration, which does)' },
    )
  }
  const lock = {
    timeoutMs: options.lockTimeoutMs ?? DEFAULT_REBUILD_LOCK_TIMEOUT_MS,
    retries: options.lockRetries ?? DEFAULT_REBUILD_LOCK_RETRIES,
  }
  const saved = savedOf(context.checkpoint.value)
  const found = await tableOf(store, table)
  if (!found) {
    throw new FluxError('MIGRATION_FAILED', `rebuildTable: table ${table} does not exist`, {
      hint: 'name the table as the search path finds it, or as `schema.table`',
    })
  }
  const names = namesOf(found.schema, found.name)
  const shown = `${found.schema}.${found.name}`
  const freshOid = await oidOf(store, names.schema, names.fresh)
  const keptOid = await oidOf(store, names.schema, names.kept)
  if (saved && keptOid === saved.table && freshOid === undefined) {
    context.log(`rebuildTable ${shown}: swapped by an earlier run, nothing left to do`)
    return { copied: undefined, swapMs: 0, lockTries: 0 }
  }
  const refused = (message: string, hint: string) =>
    new FluxError('MIGRATION_FAILED', `rebuildTable ${shown}: ${message}`, { hint })
  if (keptOid !== undefined) {
    throw refused(
      `${names.kept} exists, kept by an earlier rebuild`,
      `drop it in a migration first (\`drop table ${quoteIdentifier(names.schema)}.${quoteIdentifier(names.kept)}\`), once nothing needs its rows`,
    )
  }
  if (saved && saved.table !== found.oid) {
    throw refused(
      'the table is not the one this migration began to rebuild (it was dropped and made again since)',
      `drop ${names.fresh} if it is there, then \`flux resolve\` the migration and run it again`,
    )
  }
  const indexes = await indexesOf(store, found.oid)
  const mapping = columnMapping(found, operations)
  let resumed = saved
  if (freshOid !== undefined) {
    if (!(await hasMirror(store, found.oid, MIRROR_TRIGGER))) {
      throw refused(
        `${names.fresh} exists, but no rebuild of the table is under way (its trigger ${MIRROR_TRIGGER} is not on it)`,
        `drop ${names.fresh} if a rebuild left it, then run the migration again`,
      )
    }
    context.log(`rebuildTable ${shown}: resuming, ${names.fresh} and its trigger are in place`)
  } else {
    const obstacles = await obstaclesOf(store, found)
    if (obstacles.length > 0) {
      throw refused(
        `cannot rebuild it: ${obstacles.join('; ')}. Nothing was changed`,
        'drop or change these first, or change the table in place; the README of @flux/pg says what a rebuild carries over',
      )
    }
    // saved before anything is made, so that a crash from here on resumes; a copy given up before starts again
    resumed = { table: found.oid }
    await context.checkpoint.save(resumed)
    const setup = setupStatements(names, {
      indexes,
      foreignKeys: await foreignKeysOf(store, found.oid),
      change: changeOnNewTable(operations, names, indexes),
      grants: await grantsOf(store, found.oid, `${quoteIdentifier(names.schema)}.${quoteIdentifier(names.fresh)}`),
      mapping,
      key: found.key,
    })
    const lockOld = `lock table ${quoteIdentifier(names.schema)}.${quoteIdentifier(names.table)} in share row exclusive mode`
    await withLock(context, lock, `${timeout(lock.timeoutMs)};\n${lockOld};\n${setup.join(';\n')}`, shown)
    context.log(`rebuildTable ${shown}: ${names.fresh} made, its trigger mirrors every write`)
  }

  const copied = await copyRows(context, found, names, mapping, options, resumed).catch((error: unknown) => {
    if (context.signal.aborted || FluxError.is(error)) throw error
    // a row the change refuses (a check, a type): the triggers stay, and refuse such writes too, until it is fixed or given up
    throw refused(
      `the copy into ${names.fresh} failed: ${(error as Error).message}`,
      `fix the rows and run \`flux up\` again (the copy resumes), or give the rebuild up: ${abandonSql(names)}`,
    )
  })
  context.signal.throwIfAborted()
  await store.query(`analyze ${quoteIdentifier(names.schema)}.${quoteIdentifier(names.fresh)}`)
  const swap = await swapOf(store, found, names, lock.timeoutMs, mapping)
  context.log(`rebuildTable ${shown}: copied, swapping ${names.fresh} in`)
  const swapped = await withLock(context, lock, swap, shown)
  context.log(
    `rebuildTable ${shown}: ${copied.read} rows copied in this run, swapped in ${swapped.ms} ms (lock taken at try ${swapped.tries}); ${names.kept} is kept`,
  )
  return { copied, swapMs: swapped.ms, lockTries: swapped.tries }
}

/** The copy, by the data toolkit: keys read in batches from the old table, each batch's range copied by the server. */
async function copyRows(
  context: Pick<MigrationContext<PgClient>, 'store' | 'checkpoint' | 'progress' | 'signal'>,
  found: RebuiltTable,
  names: RebuildNames,
  mapping: Map<string, string>,
  options: RebuildTableOptions,
  saved: RebuildCheckpoint | undefined,
): Promise<CopyResult> {
  const { store } = context
  const keys = pgRows(store, { table: `${names.schema}.${names.table}`, key: found.key, columns: found.key })
  const pauseMs = options.pauseMs ?? 0
  const from: DataSource<Record<string, unknown>> = {
    ...keys,
    async *read(after, batchSize) {
      let first = true
      for await (const batch of keys.read(after, batchSize)) {
        if (!first && pauseMs > 0) await sleep(pauseMs, undefined, { signal: context.signal })
        first = false
        yield batch
      }
    },
  }
  const statement = copyStatement(names, mapping, found.key)
  const values = (key: DataKey) => (found.key.length === 1 ? [key] : (key as DataKey[]))
  let current: RebuildCheckpoint = saved ?? { table: found.oid }
  return copy({
    from,
    to: {
      async write(rows) {
        const params = [...values(keys.keyOf(rows[0]!)), ...values(keys.keyOf(rows[rows.length - 1]!))]
        // a writer's transaction that changes two rows of a batch in the other order can deadlock with it: the batch goes again
        for (let attempt = 1; ; attempt++) {
          try {
            await store.query(statement, params)
            return
          } catch (error) {
            if ((error as { code?: string }).code !== DEADLOCK || attempt >= 5) throw error
          }
        }
      },
      describe: () => `pg table ${names.schema}.${names.fresh}`,
    },
    batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
    context: {
      signal: context.signal,
      progress: (total) => context.progress(total),
      checkpoint: {
        value: saved?.copy,
        save: (value) => {
          current = { ...current, copy: value as CopyCheckpoint }
          return context.checkpoint.save(current)
        },
      },
    },
  })
}

/** The swap's script, from the catalog as it is now. */
async function swapOf(
  store: PgClient,
  found: RebuiltTable,
  names: RebuildNames,
  lockTimeoutMs: number,
  mapping: Map<string, string>,
): Promise<string> {
  const freshOid = (await oidOf(store, names.schema, names.fresh))!
  const copies = new Set((await indexesOf(store, freshOid)).map((index) => index.name))
  const indexes = (await indexesOf(store, found.oid)).map(({ name }) => {
    const copy = suffixed(name, REBUILD_NEW_SUFFIX)
    return { name, copy: copies.has(copy) ? copy : undefined }
  })
  const oldSequences = await sequencesOf(store, found.oid)
  const freshSequences = await sequencesOf(store, freshOid)
  // the new table's column filled from each old column, where it kept it as it was (renamed or not)
  const columnFrom = (column: string) =>
    [...mapping].find(([, value]) => value === `src.${quoteIdentifier(column)}`)?.[0]
  const owned = oldSequences
    .filter((sequence) => !sequence.identity)
    .map(({ sequence, column }) => ({ sequence, column: columnFrom(column) }))
  const identities = oldSequences.flatMap(({ sequence, column, identity }) => {
    const fresh = identity && freshSequences.find((each) => each.identity && each.column === columnFrom(column))
    return fresh ? [{ old: sequence, fresh: fresh.sequence }] : []
  })
  return swapScript(names, { lockTimeoutMs, indexes, owned, identities })
}

/**
 * Runs a script that starts by taking a lock with a short `lock_timeout`, as one transaction
 * (one simple query: PostgreSQL rolls all of it back on an error); when the lock is not
 * granted in time, tries again after a pause, so that writers never queue behind it for long.
 */
async function withLock(
  context: Pick<MigrationContext<PgClient>, 'store' | 'signal' | 'log'>,
  lock: { timeoutMs: number; retries: number },
  script: string,
  shown: string,
): Promise<{ ms: number; tries: number }> {
  for (let tries = 1; ; tries++) {
    context.signal.throwIfAborted()
    const started = performance.now()
    try {
      await context.store.query(script)
      return { ms: Math.round(performance.now() - started), tries }
    } catch (error) {
      if ((error as { code?: string }).code !== LOCK_NOT_AVAILABLE) throw error
      if (tries >= lock.retries) {
        throw new FluxError(
          'MIGRATION_FAILED',
          `rebuildTable ${shown}: could not lock the table within ${lock.timeoutMs} ms in ${tries} tries: a long transaction holds a lock on it`,
          {
            hint: 'find it in pg_stat_activity, then run `flux up` again (the rebuild resumes), or give a larger lockTimeoutMs or lockRetries',
            cause: error,
          },
        )
      }
      // a pause that grows, with jitter, lets the writers queued behind the try go first
      await sleep(Math.min(1_000, 50 * tries) + Math.random() * 50, undefined, { signal: context.signal })
    }
  }
}

/** What gives a rebuild up before its swap: the triggers (with their function) and the new table. */
export const abandonSql = (names: RebuildNames) =>
  `drop function ${quoteIdentifier(names.schema)}.${quoteIdentifier(names.mirror)}() cascade; drop table ${quoteIdentifier(names.schema)}.${quoteIdentifier(names.fresh)}`

const timeout = (ms: number) => `select set_config('lock_timeout', '${Math.max(1, Math.round(ms))}ms', true)`

/** The checkpoint a rebuild saved, if `value` is one. */
export function savedOf(value: unknown): RebuildCheckpoint | undefined {
  if (typeof value !== 'object' || value === null || typeof (value as { table?: unknown }).table !== 'number')
    return undefined
  return value as RebuildCheckpoint
}
