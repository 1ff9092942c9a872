import { describe, expect, it } from 'vitest'
import type { BlobStore } from '../adapter.ts'
import { FluxError } from '../errors.ts'
import { blobs, type PagedBlobStore } from './blobs.ts'
import { copy } from './copy.ts'
import type { DataKey, DataSource, DataTarget } from './data-types.ts'
import { verifyCopy } from './verify-copy.ts'

interface Row {
  id: number
  name: string
}

/** An in-memory table, keyed by `id`: a source that logs where each read starts, and an upserting target. */
function memoryTable(rows: Row[] = [], name = 'memory') {
  const byId = new Map(rows.map((row) => [row.id, row]))
  const reads: (DataKey | undefined)[] = []
  let inFlight = 0
  let maxInFlight = 0
  let writes = 0
  const table: DataSource<Row> & DataTarget<Row> = {
    async *read(after, batchSize) {
      reads.push(after)
      const sorted = [...byId.values()].filter((row) => after === undefined || row.id > (after as number))
      sorted.sort((a, b) => a.id - b.id)
      for (let start = 0; start < sorted.length; start += batchSize) {
        inFlight++
        maxInFlight = Math.max(maxInFlight, inFlight)
        await new Promise((resolve) => setTimeout(resolve, 1))
        inFlight--
        yield sorted.slice(start, start + batchSize)
      }
    },
    keyOf: (row) => row.id,
    count: async () => byId.size,
    async write(batch) {
      writes++
      await new Promise((resolve) => setTimeout(resolve, 2))
      for (const row of batch) byId.set(row.id, row)
    },
    describe: () => name,
  }
  return { table, byId, reads, writes: () => writes, maxInFlight: () => maxInFlight }
}

const rowsUpTo = (count: number) =>
  Array.from({ length: count }, (_, index) => ({ id: index + 1, name: `row ${index + 1}` }))

/** The parts of a migration's context a copy uses, in memory; `failAfter` kills the run after that many saves. */
function fakeContext(value?: unknown, failAfter = Number.POSITIVE_INFINITY) {
  const saves: unknown[] = []
  const progress: number[] = []
  const controller = new AbortController()
  return {
    saves,
    progress,
    controller,
    context: {
      checkpoint: {
        value,
        async save(next: unknown) {
          saves.push(JSON.parse(JSON.stringify(next)))
          if (saves.length >= failAfter) throw new Error('killed')
        },
      },
      progress: (total: number) => ({ advance: () => {}, set: (done: number) => void progress.push(done / total) }),
      signal: controller.signal,
    },
  }
}

describe('copy', () => {
  it('copies every row in batches, transforming them, saving a checkpoint and progress after each batch', async () => {
    const source = memoryTable(rowsUpTo(2_500))
    const target = memoryTable([], 'target')
    const { context, saves, progress } = fakeContext()
    const result = await copy({
      from: source.table,
      to: target.table,
      transform: (row) => (row.id % 10 === 0 ? undefined : { ...row, name: row.name.toUpperCase() }),
      batchSize: 1_000,
      context,
    })
    expect(result).toEqual({ read: 2_500, written: 2_250, batches: 3, resumedAfter: undefined })
    expect(target.byId.size).toBe(2_250)
    expect(target.byId.get(7)).toEqual({ id: 7, name: 'ROW 7' })
    expect(saves).toEqual([
      { after: 1_000, read: 1_000 },
      { after: 2_000, read: 2_000 },
      { after: 2_500, read: 2_500 },
    ])
    expect(progress).toEqual([0, 0.4, 0.8, 1])
  })

  it('reads the next batch while one is written, never more than one ahead', async () => {
    const source = memoryTable(rowsUpTo(50))
    let reading = 0
    const read = source.table.read.bind(source.table)
    const readAhead: number[] = []
    source.table.read = async function* (after, batchSize) {
      for await (const batch of read(after, batchSize)) {
        reading++
        yield batch
      }
    }
    let written = 0
    const target: DataTarget<Row> = {
      async write(batch) {
        await new Promise((resolve) => setTimeout(resolve, 10))
        written += batch.length
        // batches read by now, beyond those written
        readAhead.push(reading - written / 5)
      },
      describe: () => 'slow target',
    }
    await copy({ from: source.table, to: target, batchSize: 5 })
    expect(written).toBe(50)
    // while batch n was written, batch n + 1 was read (but not n + 2)
    expect(readAhead.slice(0, -1)).toEqual(new Array(9).fill(1))
  })

  it('saves the checkpoint of a batch while the next one is written, one save at a time, in order', async () => {
    const source = memoryTable(rowsUpTo(50))
    const events: string[] = []
    let saving = 0
    let mostSaving = 0
    const target: DataTarget<Row> = {
      async write(batch) {
        events.push(`write ${batch.at(-1)!.id}`)
        await new Promise((resolve) => setTimeout(resolve, 2))
      },
      describe: () => 'target',
    }
    const { context, saves } = fakeContext()
    const save = context.checkpoint.save
    context.checkpoint.save = async (value) => {
      saving++
      mostSaving = Math.max(mostSaving, saving)
      events.push(`save ${(value as { after: number }).after}`)
      await new Promise((resolve) => setTimeout(resolve, 5))
      await save(value)
      events.push(`saved ${(value as { after: number }).after}`)
      saving--
    }
    await copy({ from: source.table, to: target, batchSize: 10, context })
    expect(saves.map((value) => (value as { after: number }).after)).toEqual([10, 20, 30, 40, 50])
    expect(mostSaving).toBe(1)
    // batch 20 is written while the checkpoint of batch 10 is saved
    expect(events.slice(0, 4)).toEqual(['write 10', 'save 10', 'write 20', 'saved 10'])
  })

  it('killed after a checkpoint, resumes after it: rows before it are not read again, the batch in flight is redone without duplicates', async () => {
    const source = memoryTable(rowsUpTo(3_000))
    const target = memoryTable([], 'target')
    const first = fakeContext(undefined, 2)
    await expect(copy({ from: source.table, to: target.table, context: first.context })).rejects.toThrow('killed')
    expect(first.saves.at(-1)).toEqual({ after: 2_000, read: 2_000 })
    // the run died after writing batch 2 and before its checkpoint was known: the resume redoes nothing before it
    const second = fakeContext(first.saves.at(-1))
    const result = await copy({ from: source.table, to: target.table, context: second.context })
    expect(source.reads).toEqual([undefined, 2_000])
    expect(result).toEqual({ read: 1_000, written: 1_000, batches: 1, resumedAfter: 2_000 })
    expect(second.saves).toEqual([{ after: 3_000, read: 3_000 }])
    expect(target.byId.size).toBe(3_000)

    // a batch written twice (checkpoint lost) leaves one row per key
    const third = fakeContext({ after: 1_000, read: 1_000 })
    await copy({ from: source.table, to: target.table, context: third.context })
    expect(target.byId.size).toBe(3_000)
  })

  it('stops between batches once the signal is aborted', async () => {
    const source = memoryTable(rowsUpTo(5_000))
    const target = memoryTable([], 'target')
    const { context, controller, saves } = fakeContext()
    const original = context.checkpoint.save
    context.checkpoint.save = async (value) => {
      await original(value)
      if (saves.length === 2) controller.abort(new Error('cancelled'))
    }
    await expect(copy({ from: source.table, to: target.table, context })).rejects.toThrow('cancelled')
    expect(target.byId.size).toBe(2_000)
  })
})

describe('verifyCopy', () => {
  it('passes when both sides hold the same keys', async () => {
    const report = await verifyCopy({
      from: memoryTable(rowsUpTo(3_000)).table,
      to: memoryTable(rowsUpTo(3_000)).table,
      checksum: true,
    })
    expect(report.ok).toBe(true)
    expect(report.from.count).toBe(3_000)
  })

  it('names a missing and an extra row, with the same count on both sides', async () => {
    const target = rowsUpTo(3_000).filter((row) => row.id !== 1_234)
    target.push({ id: 9_999, name: 'stray' })
    const from = memoryTable(rowsUpTo(3_000), 'pg table review').table
    const to = memoryTable(target, 'mongo collection reviews').table
    // counts alone cannot tell
    expect((await verifyCopy({ from, to })).ok).toBe(true)
    const error = await verifyCopy({ from, to, checksum: true }).catch((caught: unknown) => caught)
    expect(FluxError.is(error)).toBe(true)
    expect((error as FluxError).code).toBe('INTEGRITY')
    expect((error as FluxError).message).toBe(
      'the copy does not match its source: pg table review has 3000 rows, mongo collection reviews has 3000; missing from the target: 1234; extra in the target: 9999',
    )
    const report = await verifyCopy({ from, to, checksum: true, report: true })
    expect(report.missing).toEqual({ count: 1, examples: [1_234] })
    expect(report.extra).toEqual({ count: 1, examples: [9_999] })
  })

  it('compares counts without a checksum', async () => {
    const error = await verifyCopy({
      from: memoryTable(rowsUpTo(10), 'a').table,
      to: memoryTable(rowsUpTo(8), 'b').table,
    }).catch((caught: unknown) => caught)
    expect((error as Error).message).toBe('the copy does not match its source: a has 10 rows, b has 8')
  })
})

describe('blobs', () => {
  const memoryBlobs = (entries: [string, string][] = []): BlobStore & { map: Map<string, Buffer> } => {
    const map = new Map(entries.map(([key, body]) => [key, Buffer.from(body)]))
    return {
      map,
      put: async (key, body) => void map.set(key, Buffer.from(body as string)),
      get: async (key) => map.get(key)!,
      list: async (prefix = '') => [...map.keys()].filter((key) => key.startsWith(prefix)).sort(),
      delete: async (key) => void map.delete(key),
      move: async () => {},
      exists: async (key) => map.has(key),
    }
  }

  it('copies the objects under a prefix, resumes after the last key, and verifies', async () => {
    const entries = Array.from(
      { length: 30 },
      (_, n) => [`photos/${String(n).padStart(2, '0')}.jpg`, `body ${n}`] as [string, string],
    )
    const local = memoryBlobs([...entries, ['other/skip.txt', 'no']])
    const remote = memoryBlobs()
    const first = fakeContext(undefined, 1)
    const from = blobs(local, { prefix: 'photos/' })
    const to = blobs(remote, { prefix: 'copied/' })
    await expect(copy({ from, to, batchSize: 10, context: first.context })).rejects.toThrow('killed')
    expect(first.saves).toEqual([{ after: '09.jpg', read: 10 }])
    const result = await copy({ from, to, batchSize: 10, context: fakeContext(first.saves[0]).context })
    expect(result.read).toBe(20)
    expect([...remote.map.keys()].sort()).toEqual(entries.map(([key]) => key.replace('photos/', 'copied/')))
    expect(remote.map.get('copied/17.jpg')?.toString()).toBe('body 17')
    expect((await verifyCopy({ from, to, checksum: true })).ok).toBe(true)
  })
})

describe('blobs over a store that lists page by page', () => {
  it('reads the listing a page at a time, never the whole listing, and resumes with the last key as `after`', async () => {
    const bodies = new Map(
      Array.from({ length: 45 }, (_, n) => [`photos/${String(n).padStart(2, '0')}.jpg`, Buffer.from(`body ${n}`)]),
    )
    const calls: { prefix: string; after?: string; pageSize?: number }[] = []
    const store: PagedBlobStore = {
      put: async () => {},
      get: async (key) => bodies.get(key)!,
      list: async () => {
        throw new Error('list() holds every key: not to be called')
      },
      async *listPages(prefix, options = {}) {
        calls.push({ prefix, ...options })
        const keys = [...bodies.keys()].filter(
          (key) => key.startsWith(prefix) && (!options.after || key > options.after),
        )
        for (let start = 0; start < keys.length; start += options.pageSize ?? 1_000)
          yield keys.slice(start, start + (options.pageSize ?? 1_000))
      },
      delete: async () => {},
      move: async () => {},
      exists: async (key) => bodies.has(key),
    }
    const written: string[] = []
    const to: DataTarget<{ key: string; body: Buffer }> = {
      write: async (rows) => void written.push(...rows.map((row) => `${row.key}=${row.body}`)),
      describe: () => 'target',
    }
    const first = fakeContext(undefined, 2)
    const from = blobs(store, { prefix: 'photos/' })
    await expect(copy({ from, to, batchSize: 10, context: first.context })).rejects.toThrow('killed')
    expect(first.saves.at(-1)).toEqual({ after: '19.jpg', read: 20 })
    const result = await copy({ from, to, batchSize: 10, context: fakeContext(first.saves.at(-1)).context })
    expect(result.read).toBe(25)
    // count() for the progress bar, then the read: each a paged listing; the resumed read starts after the checkpoint
    expect(calls.filter((call) => call.pageSize === 10)).toEqual([
      { prefix: 'photos/', after: undefined, pageSize: 10 },
      { prefix: 'photos/', after: 'photos/19.jpg', pageSize: 10 },
    ])
    expect(written.at(-1)).toBe('44.jpg=body 44')
    expect(new Set(written).size).toBe(45)
    expect((await verifyCopy({ from, to: from, checksum: true })).from.count).toBe(45)
  })
})
