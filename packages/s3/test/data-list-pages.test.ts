import { blobs, copy, type DataTarget } from '@flux/core'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { S3Client } from '../src/index.ts'
import { deleteAll, describeWithServer, randomPrefix, testStore } from './s3-test-helpers.ts'

const COUNT = 2_345

type Paged = { listPages(prefix: string, options?: { after?: string; pageSize?: number }): AsyncIterable<string[]> }

describeWithServer('s3 listPages and blobs() over it', () => {
  const prefix = randomPrefix('pages')
  const store = testStore(prefix)
  let client: S3Client & Paged
  const keys = Array.from({ length: COUNT }, (_, n) => `photos/${String(n).padStart(5, '0')}.jpg`)
  beforeAll(async () => {
    await store.open()
    client = store.client() as S3Client & Paged
    for (let start = 0; start < COUNT; start += 100)
      await Promise.all(keys.slice(start, start + 100).map((key) => client.put(key, key)))
    await client.put('other/skip.txt', 'no')
  })
  afterAll(async () => {
    await deleteAll(prefix)
    await store.close()
  })

  const pagesOf = async (under: string, options?: { after?: string; pageSize?: number }) => {
    const pages: string[][] = []
    for await (const page of client.listPages(under, options)) pages.push(page)
    return pages
  }

  it('lists what list() lists, one ListObjectsV2 page at a time, and starts after a key', async () => {
    const pages = await pagesOf('photos/', { pageSize: 500 })
    expect(pages.map((page) => page.length)).toEqual([500, 500, 500, 500, 345])
    expect(pages.flat()).toEqual(await client.list('photos/'))
    // at most 1,000 a page, S3's limit
    expect((await pagesOf('')).map((page) => page.length)).toEqual([1_000, 1_000, 346])
    expect((await pagesOf('photos/', { after: 'photos/02000.jpg' })).flat()).toEqual(keys.slice(2_001))
  })

  it('blobs() copies through the paged listing without calling list(), and resumes after its checkpoint', async () => {
    const paged = { ...client, list: () => Promise.reject(new Error('list() holds every key')) }
    const written: string[] = []
    const to: DataTarget<{ key: string; body: Buffer }> = {
      write: async (rows) => void written.push(...rows.map((row) => `${row.key}=${row.body}`)),
      describe: () => 'target',
    }
    const saves: unknown[] = []
    const context = (value: unknown, failAfter: number) => ({
      checkpoint: {
        value,
        save: async (next: unknown) => {
          saves.push(next)
          if (saves.length >= failAfter) throw new Error('killed')
        },
      },
      progress: () => ({ advance: () => {}, set: () => {} }),
      signal: new AbortController().signal,
    })
    const from = blobs(paged, { prefix: 'photos/' })
    await expect(copy({ from, to, batchSize: 400, context: context(undefined, 3) })).rejects.toThrow('killed')
    expect(saves.at(-1)).toEqual({ after: '01199.jpg', read: 1_200 })
    written.length = 0
    const result = await copy({ from, to, batchSize: 400, context: context(saves.at(-1), Number.POSITIVE_INFINITY) })
    expect(result.read).toBe(COUNT - 1_200)
    expect(written[0]).toBe('01200.jpg=photos/01200.jpg')
    expect(written).toHaveLength(COUNT - 1_200)
  })
})
