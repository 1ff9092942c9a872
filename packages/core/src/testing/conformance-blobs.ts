import { randomBytes } from 'node:crypto'
import { Readable } from 'node:stream'
import type { Adapter, BlobStore } from '../adapter.ts'
import { type ConformanceTest, expectFluxError, STORE_NAME, testHolder } from './conformance-harness.ts'
import { ledgerEntry } from './conformance-ledger.ts'
import { expect } from './vitest.ts'

/** Keys every blob store refuses: escaping the namespace, absolute, empty, or with empty, `.` or `..` segments. */
export const INVALID_BLOB_KEYS = ['../x', '/etc/passwd', 'a/../../x', '', 'a//b', './a', 'a/./b', 'a/..', 'a/', '..']

function blobsOf(adapter: Adapter): BlobStore {
  return adapter.client() as BlobStore
}

export function blobTests(test: ConformanceTest): void {
  const settings = { requires: 'blobs' } as const
  const blobTest = (name: string, fn: (blobs: BlobStore, adapter: Adapter) => Promise<void>) =>
    test(
      name,
      async ({ open }) => {
        const adapter = await open()
        await fn(blobsOf(adapter), adapter)
      },
      settings,
    )

  blobTest('put a string, get the same UTF-8 bytes as a Buffer', async (blobs) => {
    await blobs.put('hello.txt', 'héllo ✓\n')
    const body = await blobs.get('hello.txt')
    expect(Buffer.isBuffer(body)).toBe(true)
    expect(body.equals(Buffer.from('héllo ✓\n', 'utf8'))).toBe(true)
  })

  blobTest('put binary bytes (Buffer and Uint8Array), get them back exactly', async (blobs) => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, index) => index))
    await blobs.put('bin/all-bytes', bytes)
    expect((await blobs.get('bin/all-bytes')).equals(bytes)).toBe(true)
    await blobs.put('bin/plain', new Uint8Array([0, 1, 2, 255]))
    expect([...(await blobs.get('bin/plain'))]).toEqual([0, 1, 2, 255])
  })

  blobTest('put a stream of several chunks, get every byte in order', async (blobs) => {
    const chunks = [randomBytes(70_000), randomBytes(1), randomBytes(200_000)]
    await blobs.put('stream/big.bin', Readable.from(chunks))
    expect((await blobs.get('stream/big.bin')).equals(Buffer.concat(chunks))).toBe(true)
  })

  blobTest('put replaces the whole object, also with a shorter body', async (blobs) => {
    await blobs.put('same.txt', 'a much longer first version')
    await blobs.put('same.txt', 'short')
    expect((await blobs.get('same.txt')).toString()).toBe('short')
    await blobs.put('empty.txt', '')
    expect((await blobs.get('empty.txt')).length).toBe(0)
    expect(await blobs.exists('empty.txt')).toBe(true)
  })

  blobTest('get of an absent key rejects with BLOB_NOT_FOUND naming the key', async (blobs) => {
    const error = await expectFluxError(blobs.get('missing/photo.jpg'), 'BLOB_NOT_FOUND')
    expect(error.message).toContain('missing/photo.jpg')
  })

  blobTest('nested keys: a key is an object, its "directories" are not', async (blobs) => {
    await blobs.put('a/b/c.txt', 'deep')
    expect((await blobs.get('a/b/c.txt')).toString()).toBe('deep')
    expect(await blobs.exists('a/b/c.txt')).toBe(true)
    expect(await blobs.exists('a/b')).toBe(false)
    expect(await blobs.exists('a')).toBe(false)
    await expectFluxError(blobs.get('a/b'), 'BLOB_NOT_FOUND')
    expect(await blobs.list('')).toEqual(['a/b/c.txt'])
  })

  blobTest('list: sorted by code unit, filtered by a plain string prefix', async (blobs) => {
    const keys = [
      'b.txt',
      'a/c.txt',
      'a.txt',
      'a/b/d.txt',
      'photos/2026/x.jpg',
      'photos/2025/y.jpg',
      'photos-old/z',
      'Z',
    ]
    for (const key of keys) await blobs.put(key, key)
    const sorted = [...keys].sort()
    expect(await blobs.list('')).toEqual(sorted)
    expect(await blobs.list()).toEqual(sorted)
    expect(await blobs.list('photos/')).toEqual(['photos/2025/y.jpg', 'photos/2026/x.jpg'])
    expect(await blobs.list('photos')).toEqual(['photos-old/z', 'photos/2025/y.jpg', 'photos/2026/x.jpg'])
    expect(await blobs.list('photos/2026/x')).toEqual(['photos/2026/x.jpg'])
    expect(await blobs.list('a')).toEqual(['a.txt', 'a/b/d.txt', 'a/c.txt'])
    expect(await blobs.list('nothing/')).toEqual([])
  })

  test(
    "list never shows the store's own ledger and lease",
    async ({ open, hold }) => {
      const adapter = await open()
      const blobs = blobsOf(adapter)
      expect(await blobs.list('')).toEqual([])
      hold(await adapter.acquire({ store: STORE_NAME, ttlMs: 30_000, waitMs: 0, holder: testHolder('lister') }))
      await adapter.ledger.record(ledgerEntry('app/one'))
      await blobs.put('photo.jpg', 'jpeg')
      expect(await blobs.list('')).toEqual(['photo.jpg'])
      expect(await blobsOf(await open()).list('')).toEqual(['photo.jpg'])
    },
    settings,
  )

  blobTest('delete removes the object; deleting an absent key is not an error', async (blobs) => {
    await blobs.put('dir/gone.txt', 'x')
    await blobs.put('dir/kept.txt', 'y')
    await blobs.delete('dir/gone.txt')
    expect(await blobs.exists('dir/gone.txt')).toBe(false)
    await expectFluxError(blobs.get('dir/gone.txt'), 'BLOB_NOT_FOUND')
    await blobs.delete('dir/gone.txt')
    await blobs.delete('never/was.txt')
    expect(await blobs.list('')).toEqual(['dir/kept.txt'])
  })

  blobTest('move renames, replacing the target, into new nested keys', async (blobs) => {
    await blobs.put('incoming/a.jpg', 'A')
    await blobs.put('archive/a.jpg', 'old')
    await blobs.move('incoming/a.jpg', 'archive/a.jpg')
    expect((await blobs.get('archive/a.jpg')).toString()).toBe('A')
    expect(await blobs.exists('incoming/a.jpg')).toBe(false)
    await blobs.move('archive/a.jpg', 'x/y/z/a.jpg')
    expect(await blobs.list('')).toEqual(['x/y/z/a.jpg'])
  })

  blobTest('move of an absent key rejects with BLOB_NOT_FOUND and leaves the target alone', async (blobs) => {
    await blobs.put('target.txt', 'keep me')
    const error = await expectFluxError(blobs.move('absent.txt', 'target.txt'), 'BLOB_NOT_FOUND')
    expect(error.message).toContain('absent.txt')
    expect((await blobs.get('target.txt')).toString()).toBe('keep me')
    expect(await blobs.list('')).toEqual(['target.txt'])
  })

  blobTest('exists says whether an object is there', async (blobs) => {
    expect(await blobs.exists('maybe.txt')).toBe(false)
    await blobs.put('maybe.txt', '1')
    expect(await blobs.exists('maybe.txt')).toBe(true)
  })

  blobTest('invalid keys are refused with KEY_INVALID by every method, and nothing is written', async (blobs) => {
    await blobs.put('valid.txt', 'v')
    for (const key of INVALID_BLOB_KEYS) {
      const error = await expectFluxError(blobs.put(key, 'escape'), 'KEY_INVALID')
      if (key !== '') expect(error.message).toContain(key)
      await expectFluxError(blobs.put(key, Readable.from([Buffer.from('escape')])), 'KEY_INVALID')
      await expectFluxError(blobs.get(key), 'KEY_INVALID')
      await expectFluxError(blobs.exists(key), 'KEY_INVALID')
      await expectFluxError(blobs.delete(key), 'KEY_INVALID')
      await expectFluxError(blobs.move('valid.txt', key), 'KEY_INVALID')
      await expectFluxError(blobs.move(key, 'valid-copy.txt'), 'KEY_INVALID')
    }
    expect(await blobs.list('')).toEqual(['valid.txt'])
    expect((await blobs.get('valid.txt')).toString()).toBe('v')
  })
}
