import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { blobs, copy, type DataTarget } from '@flux/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fsStore } from '../src/index.ts'

/** Names whose order differs between "walk each directory in name order" and the keys' order ('a-c' < 'a/b'). */
const FILES = [
  'a-c',
  'a/b',
  'a/a/z',
  'a.b',
  'a0',
  'b',
  'photos/1/x.jpg',
  'photos/10.jpg',
  'photos/1-0.jpg',
  'photos/2.jpg',
]

type Paged = { listPages(prefix: string, options?: { after?: string; pageSize?: number }): AsyncIterable<string[]> }

describe('fs listPages and blobs() over it', () => {
  let root: string
  let client: ReturnType<ReturnType<typeof fsStore>['client']> & Paged
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'flux-fs-pages-'))
    for (const key of FILES) {
      await mkdir(dirname(join(root, key)), { recursive: true })
      await writeFile(join(root, key), key)
    }
    // a link out of the root is no blob; the ledger's folder is never listed
    await symlink(tmpdir(), join(root, 'outside'))
    await mkdir(join(root, '.flux'), { recursive: true })
    await writeFile(join(root, '.flux', 'ledger.json'), '{}')
    const store = fsStore({ root })
    await store.open()
    client = store.client() as typeof client
  })
  afterAll(() => rm(root, { recursive: true, force: true }))

  const pagesOf = async (prefix: string, options?: { after?: string; pageSize?: number }) => {
    const pages: string[][] = []
    for await (const page of client.listPages(prefix, options)) pages.push(page)
    return pages
  }

  it('lists what list() lists, in the same order, in pages of at most pageSize', async () => {
    const pages = await pagesOf('', { pageSize: 3 })
    expect(pages.map((page) => page.length)).toEqual([3, 3, 3, 1])
    expect(pages.flat()).toEqual(await client.list(''))
    expect(pages.flat()).toEqual([...FILES].sort())
    expect((await pagesOf('photos/1', { pageSize: 100 })).flat()).toEqual(await client.list('photos/1'))
    expect((await pagesOf('a')).flat()).toEqual(['a-c', 'a.b', 'a/a/z', 'a/b', 'a0'])
  })

  it('starts after a key, skipping what sorts before it', async () => {
    expect((await pagesOf('', { after: 'a/a/z' })).flat()).toEqual([
      'a/b',
      'a0',
      'b',
      'photos/1-0.jpg',
      'photos/1/x.jpg',
      'photos/10.jpg',
      'photos/2.jpg',
    ])
    expect((await pagesOf('photos/', { after: 'photos/1-0.jpg' })).flat()).toEqual([
      'photos/1/x.jpg',
      'photos/10.jpg',
      'photos/2.jpg',
    ])
    expect((await pagesOf('', { after: 'photos/2.jpg' })).flat()).toEqual([])
  })

  it('blobs() copies through the paged listing without calling list()', async () => {
    const paged = { ...client, list: () => Promise.reject(new Error('list() holds every key')) }
    const written: string[] = []
    const to: DataTarget<{ key: string; body: Buffer }> = {
      write: async (rows) => void written.push(...rows.map((row) => `${row.key}=${row.body}`)),
      describe: () => 'target',
    }
    const result = await copy({ from: blobs(paged, { prefix: 'photos/' }), to, batchSize: 2 })
    expect(result).toMatchObject({ read: 4, batches: 2 })
    expect(written).toEqual([
      '1-0.jpg=photos/1-0.jpg',
      '1/x.jpg=photos/1/x.jpg',
      '10.jpg=photos/10.jpg',
      '2.jpg=photos/2.jpg',
    ])
  })
})
