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
 * batch, and resumes after that key when the migration runs again after a crash. Writes are
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
      if (out.length > 0) await to.write(out)
      readSoFar += rows.length
      result.read += rows.length
      result.written += out.length
      result.batches++
      await context?.checkpoint.save({ after: last, read: readSoFar } satisfies CopyCheckpoint)
      bar?.set(readSoFar)
      signal?.throwIfAborted()
    }
  } finally {
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
    const value = await transform(row)
    if (value !== undefined) out.push(value)
  }
  return out
}

function checkpointOf(value: unknown): CopyCheckpoint | undefined {
  if (typeof value !== 'object' || value === null || !('after' in value)) return undefined
  const { after, read } = value as { after: DataKey; read?: unknown }
  return { after, read: typeof read === 'number' ? read : 0 }
}
