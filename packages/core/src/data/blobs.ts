import type { BlobStore } from '../adapter.ts'
import type { DataKey, DataSource, DataTarget } from './data-types.ts'

/** How many objects {@link blobs} reads or puts at once unless `concurrency` says otherwise. */
export const DEFAULT_BLOB_CONCURRENCY = 16

/** One object of a blob store, as {@link blobs} reads and writes it. */
export interface BlobRow {
  /** Its key, relative to the `prefix` given to {@link blobs}. */
  key: string
  body: Buffer
}

export interface BlobsOptions {
  /** Only the objects under this prefix (`'photos/'`); keys of the rows are relative to it. Default `''`: all. */
  prefix?: string
  /** Objects read or put at once. Default {@link DEFAULT_BLOB_CONCURRENCY}. */
  concurrency?: number
  /** What the store is, for messages. Default `'blobs'`. */
  name?: string
}

/**
 * The objects of a blob store (an fs or s3 store's client, `ctx.store` or `ctx.stores.<name>`),
 * as a source and a target for {@link copy} and {@link verifyCopy}: read in key order
 * (the store's `list` sorts keys), `concurrency` gets at a time; written with `concurrency`
 * puts at a time (a put replaces, so a redone batch does not duplicate). Bodies are read
 * whole: for very large objects copy with `store.put(key, stream)` yourself.
 *
 * @example
 * ```ts
 * await copy({ from: blobs(ctx.stores.local, { prefix: 'photos/' }), to: blobs(ctx.store, { prefix: 'photos/' }), context: ctx })
 * ```
 */
export function blobs(store: BlobStore, options: BlobsOptions = {}): DataSource<BlobRow> & DataTarget<BlobRow> {
  const prefix = options.prefix ?? ''
  const concurrency = options.concurrency ?? DEFAULT_BLOB_CONCURRENCY
  const name = `${options.name ?? 'blobs'}${prefix ? ` under ${prefix}` : ''}`
  // the listing holds keys only, never bodies
  const listAfter = async (after: DataKey | undefined) => {
    const keys = (await store.list(prefix)).map((key) => key.slice(prefix.length))
    return after === undefined ? keys : keys.filter((key) => key > (after as string))
  }
  return {
    async *read(after, batchSize) {
      const keys = await listAfter(after)
      for (let start = 0; start < keys.length; start += batchSize) {
        const batch = keys.slice(start, start + batchSize)
        yield await mapConcurrently(batch, concurrency, async (key) => ({ key, body: await store.get(prefix + key) }))
      }
    },
    keyOf: (row) => row.key,
    async count() {
      return (await store.list(prefix)).length
    },
    async *keys(batchSize) {
      const keys = await listAfter(undefined)
      for (let start = 0; start < keys.length; start += batchSize) yield keys.slice(start, start + batchSize)
    },
    async write(rows) {
      await mapConcurrently(rows, concurrency, (row) => store.put(prefix + row.key, row.body))
    },
    describe: () => name,
  }
}

/** `task` over every item, at most `width` at a time, results in the items' order. */
export async function mapConcurrently<T, R>(
  items: readonly T[],
  width: number,
  task: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await task(items[index]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker))
  return results
}
