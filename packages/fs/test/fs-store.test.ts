import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { FluxError, type LedgerEntry } from '@flux/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_FLUX_DIR, fsStore } from '../src/index.ts'
import { contentsOf } from './fs-test-helpers.ts'

let base: string
let root: string
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'flux-fs-store-'))
  root = join(base, 'root')
})
afterEach(async () => {
  await rm(base, { recursive: true, force: true })
})

async function rejection(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (!FluxError.is(error)) throw new Error(`expected a FluxError, got ${String(error)}`)
  return error
}

const entry: LedgerEntry = {
  id: 'app/20260101000000_init',
  checksum: 'sha256:00',
  status: 'applied',
  appliedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 5,
  runId: 'r-1',
  fluxVersion: '0.1.0',
}

describe('fsStore', () => {
  it('resolves root at factory time and describes itself by it', () => {
    const store = fsStore({ root: 'var/photos' })
    expect(store.describe()).toBe(`fs ${resolve('var/photos')}`)
    expect(store.client().root).toBe(resolve('var/photos'))
    expect(store.kind).toBe('fs')
    expect(store.capabilities).toEqual({ blobs: true })
    expect(DEFAULT_FLUX_DIR).toBe('.flux')
  })

  it('refuses a missing root or a fluxDir that is not one name', () => {
    expect(() => fsStore({ root: '' })).toThrow(/needs a `root`/)
    expect(() => fsStore({ root: '.', fluxDir: '../x' })).toThrow(/invalid fluxDir/)
  })

  it('works on a missing root without creating it until the first write', async () => {
    root = join(base, 'not', 'yet')
    const store = fsStore({ root })
    await store.open()
    expect(await store.ledger.read()).toEqual([])
    await store.ledger.remove('app/x')
    expect(await store.inspectLease()).toBeUndefined()
    expect(await store.breakLease()).toBeUndefined()
    expect(await store.client().list('')).toEqual([])
    expect(await store.client().exists('a.txt')).toBe(false)
    expect((await rejection(store.client().get('a.txt'))).code).toBe('BLOB_NOT_FOUND')
    await store.client().delete('a.txt')
    await store.close()
    expect(await readdir(base)).toEqual([])
    await store.ledger.record(entry)
    expect(await contentsOf(root)).toEqual(['.flux', '.flux/ledger.json'])
  })

  it('open fails with STORE_UNAVAILABLE naming a root that is a file', async () => {
    await writeFile(root, 'not a directory')
    const error = await rejection(fsStore({ root }).open())
    expect(error.code).toBe('STORE_UNAVAILABLE')
    expect(error.message).toContain(`${root} is not a directory`)
    expect(error.hint).toContain(root)
  })
})

describe('ledger file', () => {
  it('is { version: 1, entries } in <root>/.flux/ledger.json', async () => {
    await fsStore({ root }).ledger.record({ ...entry, checkpoint: { page: 2 } })
    const file = JSON.parse(await readFile(join(root, '.flux', 'ledger.json'), 'utf8'))
    expect(file).toEqual({ version: 1, entries: [{ ...entry, checkpoint: { page: 2 } }] })
  })

  it('lives in fluxDir when it is set', async () => {
    await fsStore({ root, fluxDir: '_flux' }).ledger.record(entry)
    expect(await contentsOf(root)).toEqual(['_flux', '_flux/ledger.json'])
  })

  it('when malformed, fails with STORE_ERROR naming the file, and is not overwritten', async () => {
    const file = join(root, '.flux', 'ledger.json')
    await mkdir(join(root, '.flux'), { recursive: true })
    for (const text of ['{"version": 1, "entries": [', '{"version": 1}', '[]', '{"version":1,"entries":[{"id":1}]}']) {
      await writeFile(file, text)
      const store = fsStore({ root })
      const error = await rejection(store.ledger.read())
      expect(error.code).toBe('STORE_ERROR')
      expect(error.message).toContain(file)
      expect(error.file).toBe(file)
      expect(error.hint).toMatch(/must not be edited by hand/)
      expect((await rejection(store.ledger.record(entry))).code).toBe('STORE_ERROR')
      expect(await readFile(file, 'utf8')).toBe(text)
    }
  })

  it('written by a newer format version, asks to upgrade', async () => {
    await mkdir(join(root, '.flux'), { recursive: true })
    await writeFile(join(root, '.flux', 'ledger.json'), '{"version": 2, "entries": []}')
    const error = await rejection(fsStore({ root }).ledger.read())
    expect(error.code).toBe('STORE_ERROR')
    expect(error.hint).toMatch(/upgrade @flux\/fs/)
  })
})

describe('blobs', () => {
  it('refuses keys in the reserved directory, with backslashes, or named like temp files', async () => {
    const blobs = fsStore({ root }).client()
    for (const key of ['.flux/ledger.json', '.flux', 'a\\b', `photos/.a.jpg.${'0'.repeat(36)}.flux-tmp`]) {
      const error = await rejection(blobs.put(key, 'x'))
      expect(error.code).toBe('KEY_INVALID')
      expect(error.message).toContain(`"${key}"`)
      expect(error.message).toContain(root)
      expect(error.hint).toMatch(/photos\/2026\/a\.jpg/)
    }
    expect(await contentsOf(root)).toEqual([])
  })

  it('never follows a symbolic link out of the root', async () => {
    const outside = join(base, 'outside')
    await mkdir(outside)
    await writeFile(join(outside, 'secret.txt'), 'secret')
    await mkdir(root)
    await symlink(outside, join(root, 'link'))
    await symlink(join(outside, 'secret.txt'), join(root, 'file-link'))
    await symlink(join(base, 'nowhere'), join(root, 'dangling'))
    const blobs = fsStore({ root }).client()
    for (const attempt of [
      () => blobs.put('link/x.txt', 'escaped'),
      () => blobs.put('link/deeper/x.txt', 'escaped'),
      () => blobs.get('link/secret.txt'),
      () => blobs.exists('link/secret.txt'),
      () => blobs.put('file-link', 'overwritten'),
      () => blobs.get('file-link'),
      () => blobs.move('file-link', 'inside.txt'),
      () => blobs.delete('link/secret.txt'),
      () => blobs.put('dangling/x.txt', 'escaped'),
    ]) {
      const error = await rejection(attempt())
      expect(error.code).toBe('KEY_INVALID')
    }
    expect(await blobs.list('')).toEqual([])
    expect(await blobs.list('link/')).toEqual([])
    expect(await contentsOf(outside)).toEqual(['secret.txt'])
    expect(await readFile(join(outside, 'secret.txt'), 'utf8')).toBe('secret')
    for (const key of ['../x', 'a/../../x'])
      expect((await rejection(blobs.put(key, 'escaped'))).code).toBe('KEY_INVALID')
    expect((await readdir(base)).sort()).toEqual(['outside', 'root'])
    expect((await readdir(root)).sort()).toEqual(['dangling', 'file-link', 'link'])
  })

  it('follows symbolic links that stay inside the root (not into .flux), and works on a root that is a link', async () => {
    await mkdir(join(root, 'real'), { recursive: true })
    await symlink(join(root, 'real'), join(root, 'inner'))
    const linkedRoot = join(base, 'linked-root')
    await symlink(root, linkedRoot)
    const store = fsStore({ root: linkedRoot })
    const blobs = store.client()
    await blobs.put('inner/a.txt', 'a')
    expect((await blobs.get('real/a.txt')).toString()).toBe('a')
    expect(await blobs.list('')).toEqual(['real/a.txt'])
    // but not into flux's own directory
    await store.ledger.record(entry)
    await symlink(join(root, '.flux', 'ledger.json'), join(root, 'ledger-link'))
    expect((await rejection(blobs.get('ledger-link'))).code).toBe('KEY_INVALID')
    expect((await rejection(blobs.put('ledger-link', '{}'))).code).toBe('KEY_INVALID')
    expect(await blobs.list('')).toEqual(['real/a.txt'])
    expect(await store.ledger.read()).toEqual([entry])
  })

  it('leaves no temp files behind, also when a stream body fails half-way', async () => {
    const store = fsStore({ root })
    const blobs = store.client()
    for (let index = 0; index < 5; index++) await store.ledger.record({ ...entry, id: `app/${index}` })
    await blobs.put('a/one.txt', 'one')
    await blobs.put('a/two.txt', Readable.from([Buffer.from('t'), Buffer.from('wo')]))
    await blobs.move('a/one.txt', 'b/one.txt')
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1024))
        this.destroy(new Error('upload interrupted'))
      },
    })
    const error = await rejection(blobs.put('a/broken.bin', failing))
    expect(error.code).toBe('STORE_ERROR')
    expect(error.message).toContain('upload interrupted')
    expect(await contentsOf(root)).toEqual(['.flux', '.flux/ledger.json', 'a', 'a/two.txt', 'b', 'b/one.txt'])
  })

  it('delete and move remove the directories they leave empty, never the root', async () => {
    const blobs = fsStore({ root }).client()
    await blobs.put('a/b/c.txt', 'c')
    await blobs.put('x/keep.txt', 'k')
    await blobs.move('x/keep.txt', 'y/keep.txt')
    await blobs.delete('a/b/c.txt')
    expect(await contentsOf(root)).toEqual(['y', 'y/keep.txt'])
    await blobs.delete('y/keep.txt')
    expect(await contentsOf(root)).toEqual([])
  })

  it('refuses a key that clashes with a directory of other keys', async () => {
    const blobs = fsStore({ root }).client()
    await blobs.put('a/b.txt', 'b')
    expect((await rejection(blobs.put('a', 'x'))).code).toBe('KEY_INVALID')
    expect((await rejection(blobs.put('a/b.txt/c', 'x'))).code).toBe('KEY_INVALID')
    expect(await blobs.list('')).toEqual(['a/b.txt'])
  })
})
