/**
 * A row's key: what orders a source and what a checkpoint stores, so it must survive
 * `JSON.stringify` and `JSON.parse` unchanged (a string, a number, or an array or object of
 * them for composite keys). Sources whose native keys are not JSON (mongo's `ObjectId`)
 * encode them in `keyOf` and decode them in `read`.
 */
export type DataKey = string | number | boolean | null | readonly DataKey[] | { readonly [field: string]: DataKey }

/**
 * Where a copy reads from: a table, a collection, a bucket prefix. Read by {@link copy} and
 * {@link verifyCopy}. Every store's toolkit (`pgRows`, `mongoDocuments`, `redisKeys`, `blobs`)
 * gives one; write your own for anything else that can be read in a stable key order.
 *
 * @example
 * ```ts
 * const source: DataSource<{ id: number }> = {
 *   async *read(after, batchSize) {
 *     for (let last = after as number | undefined; ; ) {
 *       const { rows } = await store.query('select * from hotel where id > $1 order by id limit $2', [last ?? -1, batchSize])
 *       if (rows.length > 0) yield rows
 *       if (rows.length < batchSize) return
 *       last = rows[rows.length - 1].id
 *     }
 *   },
 *   keyOf: (row) => row.id,
 * }
 * ```
 */
export interface DataSource<Row = unknown> {
  /**
   * Yields the rows whose key comes after `after` (all rows when `undefined`), in batches of
   * at most `batchSize`, in ascending key order, the same order on every call: a copy resumed
   * from a checkpoint calls it with the last key written, and must not see that row or any
   * row before it again. Nothing may be read ahead beyond the batch being yielded: memory
   * stays bounded by the batch size. A source without a key order (Redis `SCAN`) may instead
   * give, as `keyOf` of a batch's rows, the position after that batch (a cursor) and take it
   * back as `after`; its `keys` then give what `verifyCopy` compares.
   */
  read(after: DataKey | undefined, batchSize: number): AsyncIterable<Row[]>
  /** The key of a row, as `read` orders it and takes it back as `after` (or its batch's position, see `read`). */
  keyOf(row: Row): DataKey
  /**
   * How many rows there are, for the progress bar and for {@link verifyCopy}. Optional: without
   * it the progress bar counts up without a total, and `verifyCopy` counts by reading keys.
   */
  count?(): Promise<number>
  /**
   * Only the keys, in batches (any order), for {@link verifyCopy}'s checksum, where that is
   * cheaper than `read` (a blob listing without the bodies). Default: `read` mapped by `keyOf`.
   */
  keys?(batchSize: number): AsyncIterable<DataKey[]>
  /** What it reads, for messages: `pg table public.review`, `mongo collection reviews`. */
  describe(): string
}

/**
 * Where a copy writes to. The toolkits' factories return one object that is both a
 * {@link DataSource} and a `DataTarget`, so the same value can be copied to and verified.
 */
export interface DataTarget<Row = unknown> {
  /**
   * Writes the rows, replacing any row with the same key: an upsert, never a plain insert,
   * because a batch that was written but not yet checkpointed when a run was killed is
   * written again by the resumed run, and must not be duplicated.
   */
  write(rows: Row[]): Promise<void>
  /** What it writes to, for messages. */
  describe(): string
}
