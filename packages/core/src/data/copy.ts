import type { MigrationContext } from '../migration.ts'
import type { DataKey, DataSource, DataTarget } from './data-types.ts'

/** Rows per batch read and written by {@link copy} unless `batchSize` says otherwise. */
export const DEFAULT_BATCH_SIZE = 1_000

/** What {@link copy} saves with `ctx.checkpoint.save()` after each batch. */
export interface CopyCheckpoint {
  /** Key of the last row written: a resumed copy reads the rows after it. */
  after: DataKey
  /** Rows read so far, over every run. */
  read: number
}

export interface CopyOptions<Row, Out> {
  from: DataSource<Row>
  to: DataTarget<Out>
  /**
   * Turns a source row into the target's row; `undefined` skips the row. Default: the row
   * as it is. It sees each row once per run (a batch redone after a crash: once more).
   */
  transform?: (row: Row) => Out | undefined | Promise<Out | undefined>
  /** Rows per batch. Default {@link DEFAULT_BATCH_SIZE}. */
  batchSize?: number
  /**
   * The migration's context (pass `ctx`): its checkpoint is saved after every batch and read
   * to resume, its progress bar is fed, its signal stops the copy between batches. Leave it
   * out to copy outside a migration (no resume, no progress).
   */
  context?: Pick<MigrationContext, 'checkpoint' | 'progress' | 'signal'>
}

/** What a copy did in this run. */
export interface CopyResult {
  /** Rows read in this run (a resumed run does not count those before its checkpoint). */
  read: number
  /** Rows written in this run (rows the transform skipped are not). */
  written: number
  /** Batches written in this run. */
  batches: number
  /** The key this run started after (the checkpoint's), `undefined` when it started at the beginning. */
  resumedAfter: DataKey | undefined
}

/**
 * Copies every row of `from` into `to`, in batches, in the source's key order: reads batch
 * n + 1 while batch n is written (one batch in flight each way, so memory stays bounded by
 * the batch size), saves the last written key in the migration's checkpoint after each
 * batch (while the next batch is written, so the ledger write costs no time of its own),
 * and resumes after that key when the migration runs again after a crash. Writes are
 * upserts, so the batch that was in flight when a run was killed is written again without
 * duplicates.
 *
 * @example
 * ```ts
 * import { copy, defineMigration } from '@flux/core'
 * import { mongoDocuments } from '@flux/mongo'
 * import { pgRows } from '@flux/pg'
 *
 * export default defineMigration({
 *   store: 'reviews',
 *   uses: ['main'],
 *   transaction: false,
 *   async up(ctx) {
 *     await copy({
 *       from: pgRows(ctx.stores.main, { table: 'review', key: 'id' }),
 *       to: mongoDocuments(ctx.store, 'reviews'),
 *       transform: (row) => ({ _id: row.id, hotel: row.hotel_id, text: row.body }),
 *       context: ctx,
 *     })
 *   },
 * })
 * ```
 */
export async function copy<Row, Out = Row>(options: CopyOptions<Row, Out>): Promise<CopyResult> {
  const { from, to, context } = options
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`copy: batchSize must be a positive integer, got ${batchSize}`)
  const transform = options.transform ?? ((row: Row) => row as unknown as Out)
  const signal = context?.signal
  signal?.throwIfAborted()

  const saved = checkpointOf(context?.checkpoint.value)
  const resumedAfter = saved?.after
  let readSoFar = saved?.read ?? 0
  const result: CopyResult = { read: 0, written: 0, batches: 0, resumedAfter }

  const total = from.count ? await from.count() : undefined
  const bar = total === undefined ? undefined : context?.progress(total)
  bar?.set(readSoFar)

  const batches = from.read(resumedAfter, batchSize)[Symbol.asyncIterator]()
  // the checkpoint of batch n is saved while batch n + 1 is written; one save at a time, in order
  let saving: Promise<void> | undefined
  try {
    let next = batches.next()
    for (;;) {
      const batch = await next
      if (batch.done) break
      const rows = batch.value
      if (rows.length === 0) {
        next = batches.next()
        continue
      }
      const last = from.keyOf(rows[rows.length - 1] as Row)
      // the next batch is read while this one is transformed and written
      next = batches.next()
      // a failed write must not leave the read-ahead's rejection unhandled
      next.catch(() => {})
      const out = await transformAll(rows, transform)
      signal?.throwIfAborted()
      if (out.length > 0) await to.write(out)
      await saving
      readSoFar += rows.length
      result.read += rows.length
      result.written += out.length
      result.batches++
      saving = context?.checkpoint.save({ after: last, read: readSoFar } satisfies CopyCheckpoint)
      // a failed save is thrown by the `await saving` that follows, not left unhandled meanwhile
      saving?.catch(() => {})
      bar?.set(readSoFar)
    }
    await saving
  } finally {
    // a batch written has its checkpoint saved, even when the copy stops on an error
    await saving?.catch(() => {})
    await batches.return?.()
  }
  return result
}

async function transformAll<Row, Out>(
  rows: Row[],
  transform: (row: Row) => Out | undefined | Promise<Out | undefined>,
): Promise<Out[]> {
  const out: Out[] = []
  for (const row of rows) {
    const returned = transform(row)
    // a synchronous transform costs no await per row
    const value = isThenable(returned) ? await returned : returned
    if (value !== undefined) out.push(value)
  }
  return out
}

const isThenable = <T>(value: T | Promise<T>): value is Promise<T> =>
  typeof (value as { then?: unknown } | null | undefined)?.then === 'function'

function checkpointOf(value: unknown): CopyCheckpoint | undefined {
  if (typeof value !== 'object' || value === null || !('after' in value)) return undefined
  const { after, read } = value as { after: DataKey; read?: unknown }
  return { after, read: typeof read === 'number' ? read : 0 }
}
