import type { BlobStore } from '../adapter.ts'
import type { DataKey, DataSource, DataTarget } from './data-types.ts'

/** How many objects {@link blobs} reads or puts at once unless `concurrency` says otherwise. */
export const DEFAULT_BLOB_CONCURRENCY = 16

/**
 * A blob store that lists its keys page by page. The fs and s3 stores' clients have
 * `listPages`; {@link blobs} uses it where present, and else `list`, which holds every key.
 */
export interface PagedBlobStore extends BlobStore {
  /**
   * The keys under `prefix` (as `list` gives them, never the ledger's own), in pages of about
   * `pageSize`, in the store's own ascending order (s3: by UTF-8 bytes; fs: by UTF-16 code
   * units, as JavaScript compares strings), the same on every call, starting after the key
   * `after` when given. Only one page is held at a time.
   */
  listPages?(prefix: string, options?: { after?: string; pageSize?: number }): AsyncIterable<string[]>
}

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
 * as a source and a target for {@link copy} and {@link verifyCopy}: read in key order, page by
 * page of the store's listing (`listPages`, see {@link PagedBlobStore}; keys only, one page at a
 * time, so memory does not grow with the number of objects), `concurrency` gets at a time; written with `concurrency`
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
  const paged = store as PagedBlobStore
  /** Keys relative to `prefix`, after `after`, in batches of at most `batchSize`: pages of the listing where the store has them. */
  async function* keyBatches(after: DataKey | undefined, batchSize: number): AsyncIterable<string[]> {
    if (paged.listPages) {
      const pages = paged.listPages(prefix, {
        after: after === undefined ? undefined : prefix + (after as string),
        pageSize: batchSize,
      })
      for await (const page of pages)
        for (let start = 0; start < page.length; start += batchSize)
          yield page.slice(start, start + batchSize).map((key) => key.slice(prefix.length))
      return
    }
    // the whole listing, keys only, never bodies
    const all = (await store.list(prefix)).map((key) => key.slice(prefix.length))
    const keys = after === undefined ? all : all.filter((key) => key > (after as string))
    for (let start = 0; start < keys.length; start += batchSize) yield keys.slice(start, start + batchSize)
  }
  return {
    async *read(after, batchSize) {
      for await (const batch of keyBatches(after, batchSize))
        if (batch.length > 0)
          yield await mapConcurrently(batch, concurrency, async (key) => ({ key, body: await store.get(prefix + key) }))
    },
    keyOf: (row) => row.key,
    async count() {
      let count = 0
      for await (const batch of keyBatches(undefined, LIST_PAGE)) count += batch.length
      return count
    },
    keys: (batchSize) => keyBatches(undefined, batchSize),
    async write(rows) {
      await mapConcurrently(rows, concurrency, (row) => store.put(prefix + row.key, row.body))
    },
    describe: () => name,
  }
}

/** Keys per page when {@link blobs} only counts them. */
const LIST_PAGE = 1_000

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
