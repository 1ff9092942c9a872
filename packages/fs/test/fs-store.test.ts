import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join, resolve } from 'node:path'
import { Readable } from 'node:stream'
import { FluxError, type LedgerEntry, unsetStoreError } from '@flux/core'
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
    // an unset variable as root: a store that says so when opened, and to loadProject
    expect(unsetStoreError(fsStore({ root: '' }))?.message).toMatch(/needs a `root`/)
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
    expect(await contentsOf(root)).toEqual(['.flux', '.flux/ledger.jsonl'])
  })

  it('open fails with STORE_UNAVAILABLE naming a root that is a file', async () => {
    await writeFile(root, 'not a directory')
    const error = await rejection(fsStore({ root }).open())
    expect(error.code).toBe('STORE_UNAVAILABLE')
    expect(error.message).toContain(`${root} is not a directory`)
    expect(error.hint).toContain(root)
  })
})

describe('ledger journal', () => {
  const file = () => join(root, '.flux', 'ledger.jsonl')
  const header = '{"flux":"ledger","version":3}\n'
  const TORN = '\t(torn)'
  const line = (operation: unknown) => `${JSON.stringify(operation)}\n`
  const entryOf = (id: string, overrides: Partial<LedgerEntry> = {}): LedgerEntry => ({ ...entry, id, ...overrides })
  const ids = (entries: LedgerEntry[]) => entries.map((each) => each.id)

  /** The journal's current file: its latest generation, `ledger.jsonl` or `ledger.<n>.jsonl`. */
  async function live(): Promise<string> {
    const generations = (await readdir(join(root, '.flux')))
      .map((name) => /^ledger(?:\.(\d+))?\.jsonl$/.exec(name))
      .filter((match) => match !== null)
      .map((match) => Number(match[1] ?? 0))
    const latest = Math.max(...generations)
    return join(root, '.flux', latest === 0 ? 'ledger.jsonl' : `ledger.${latest}.jsonl`)
  }

  async function writeJournal(text: string): Promise<void> {
    await mkdir(join(root, '.flux'), { recursive: true })
    await writeFile(file(), text)
  }

  it('is a header, then one line per record or remove, in <root>/.flux/ledger.jsonl', async () => {
    const ledger = fsStore({ root }).ledger
    const running = { ...entry, status: 'running' as const, durationMs: 0, checkpoint: { page: 2 } }
    await ledger.record(running)
    await ledger.record(entry)
    await ledger.remove(entry.id)
    await ledger.remove('app/never-recorded')
    expect(await readFile(file(), 'utf8')).toBe(
      header + line({ record: running }) + line({ record: entry }) + line({ remove: entry.id }),
    )
    expect(await ledger.read()).toEqual([])
  })

  it('replays records and removes in the contract order', async () => {
    await writeJournal(
      header +
        line({ record: entryOf('app/a') }) +
        line({ record: entryOf('app/b') }) +
        line({ record: entryOf('app/c') }) +
        line({ record: entryOf('app/a', { status: 'running' }) }) +
        line({ remove: 'app/b' }) +
        line({ remove: 'app/absent' }) +
        line({ record: entryOf('app/b', { durationMs: 9 }) }),
    )
    expect(await fsStore({ root }).ledger.read()).toEqual([
      entryOf('app/a', { status: 'running' }),
      entryOf('app/c'),
      entryOf('app/b', { durationMs: 9 }),
    ])
  })

  it('lives in fluxDir when it is set', async () => {
    await fsStore({ root, fluxDir: '_flux' }).ledger.record(entry)
    expect(await contentsOf(root)).toEqual(['_flux', '_flux/ledger.jsonl'])
  })

  it('ignores a torn last line, and the next append ends it with a mark instead of cutting it off', async () => {
    const complete = header + line({ record: entryOf('app/a') }) + line({ record: entryOf('app/b') })
    const tails = [
      line({ record: entryOf('app/c') }).slice(0, 25),
      line({ remove: 'app/a' }).slice(0, -1), // valid JSON, but its newline never came: never acknowledged
    ]
    for (const [index, torn] of tails.entries()) {
      await writeJournal(complete + torn)
      const reader = fsStore({ root }).ledger
      expect(ids(await reader.read())).toEqual(['app/a', 'app/b'])
      // the instance that read it repairs it, and so does a fresh one that never did
      const repairer = index === 0 ? reader : fsStore({ root }).ledger
      await repairer.record(entryOf('app/d'))
      // never truncated: another process may be appending at that very moment
      expect(await readFile(file(), 'utf8')).toBe(`${complete + torn + TORN}\n${line({ record: entryOf('app/d') })}`)
      expect(ids(await reader.read())).toEqual(['app/a', 'app/b', 'app/d'])
      await reader.record(entryOf('app/e'))
      expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/a', 'app/b', 'app/d', 'app/e'])
    }
  })

  it('torn before its first complete record (a crash while version 2 created it) reads as empty, and is written whole again', async () => {
    const superseded = '{"flux":"ledger","version":3,"superseded":true}\n'
    for (const torn of ['', '{"flux":"ledger","version":2}\n'.slice(0, 10)]) {
      await rm(join(root, '.flux'), { recursive: true, force: true })
      await writeJournal(torn)
      const ledger = fsStore({ root }).ledger
      expect(await ledger.read()).toEqual([])
      await ledger.record(entryOf('app/x'))
      // nothing in it counts: the journal goes on in its next generation, and the torn file says so
      expect(await readFile(join(root, '.flux', 'ledger.1.jsonl'), 'utf8')).toBe(
        `{"flux":"ledger","version":3,"generation":1}\n${line({ record: entryOf('app/x') })}`,
      )
      expect(await readFile(file(), 'utf8')).toBe(superseded)
      expect(await fsStore({ root }).ledger.read()).toEqual([entryOf('app/x')])
    }
    await rm(join(root, '.flux'), { recursive: true, force: true })
    const torn = line({ record: entry }).slice(0, -1)
    await writeJournal(header + torn)
    const ledger = fsStore({ root }).ledger
    expect(await ledger.read()).toEqual([])
    await ledger.record(entryOf('app/x'))
    expect(await readFile(file(), 'utf8')).toBe(`${header + torn + TORN}\n${line({ record: entryOf('app/x') })}`)
    expect(await fsStore({ root }).ledger.read()).toEqual([entryOf('app/x')])
  })

  it('when malformed, fails with STORE_ERROR naming the file and the line, and is not overwritten', async () => {
    const good = line({ record: entry })
    for (const [text, number] of [
      [`${header + good}{"record": \n${good}`, 3],
      [`${header + good}\n${good}`, 3],
      [`${header + good}{"rec\n`, 3], // a bad last line that has its newline is not a torn append
      [`${header}{"record":{"id":1}}\n`, 2],
      [`${header + good}{"replace":"app/x"}\n`, 3],
      [`${header}{"remove":7}\n${good}`, 2],
      [`{"version":1,"entries":[]}\n${good}`, 1],
      [`${good}${good}`, 1],
      [`{"flux":"ledger","version":1}\n${good}`, 1],
    ] as const) {
      await writeJournal(text)
      const store = fsStore({ root })
      const error = await rejection(store.ledger.read())
      expect(error.code).toBe('STORE_ERROR')
      expect(error.message).toContain(file())
      expect(error.message).toContain(`line ${number}:`)
      expect(error.file).toBe(file())
      expect(error.details).toEqual({ line: number })
      expect(error.hint).toMatch(/must not be edited by hand/)
      expect((await rejection(store.ledger.record(entry))).code).toBe('STORE_ERROR')
      expect((await rejection(store.ledger.remove(entry.id))).code).toBe('STORE_ERROR')
      expect(await readFile(file(), 'utf8')).toBe(text)
    }
  })

  it('written by a newer format version, asks to upgrade', async () => {
    await writeJournal(`{"flux":"ledger","version":4}\n${line({ whatever: true })}`)
    const store = fsStore({ root })
    const error = await rejection(store.ledger.read())
    expect(error.code).toBe('STORE_ERROR')
    expect(error.hint).toMatch(/upgrade @flux\/fs/)
    expect((await rejection(store.ledger.record(entry))).hint).toMatch(/upgrade @flux\/fs/)
  })

  it('is compacted by a write that finds too many lines, keeping order and content', async () => {
    const ledger = fsStore({ root }).ledger
    const expected = new Map<string, LedgerEntry>()
    const record = async (recorded: LedgerEntry) => {
      await ledger.record(recorded)
      expected.set(recorded.id, recorded)
    }
    const remove = async (id: string) => {
      await ledger.remove(id)
      expected.delete(id)
    }
    const name = (index: number) => `app/${String((index * 37) % 200).padStart(3, '0')}_step`
    for (let index = 0; index < 200; index++) await record(entryOf(name(index), { status: 'running', durationMs: 0 }))
    for (let index = 0; index < 200; index++) await record(entryOf(name(index), { durationMs: index }))
    const lines = async () => (await readFile(await live(), 'utf8')).split('\n').length - 1
    // 1 + 400 lines for 200 live entries: not above 2 × 200 + 64
    expect(await lines()).toBe(401)
    expect(await live()).toBe(file())
    expect(await ledger.read()).toEqual([...expected.values()])
    const before = (await stat(file())).size

    // removes and re-records: live entries shrink while lines grow, until a write compacts
    for (let index = 0; index < 200; index += 2) await remove(name(index))
    for (let index = 0; index < 200; index += 10) await record(entryOf(name(index), { checkpoint: { again: index } }))
    for (let index = 1; index < 200; index += 4) await record(entryOf(name(index), { runId: 'r-2' }))
    const after = await ledger.read()
    expect(after).toEqual([...expected.values()])
    expect(ids(after)).toEqual([...expected.keys()])
    expect(await fsStore({ root }).ledger.read()).toEqual(after)
    expect((await stat(await live())).size).toBeLessThan(before)
    expect(await lines()).toBeLessThanOrEqual(1 + 2 * after.length + 64)
    // compacted into a new generation; older ones are gone, and ledger.jsonl only says it moved on
    expect(await live()).not.toBe(file())
    expect(await contentsOf(join(root, '.flux'))).toEqual([basename(await live()), 'ledger.jsonl'])
    expect(await readFile(file(), 'utf8')).toBe('{"flux":"ledger","version":3,"superseded":true}\n')
  })

  it('on the write past 2 × live + 64 lines, seals the file and goes on in a new generation: a header, one record per live entry, in order, then the write', async () => {
    const ledger = fsStore({ root }).ledger
    await ledger.record(entryOf('app/z'))
    await ledger.record(entryOf('app/a'))
    for (let index = 0; index < 66; index++) await ledger.record(entryOf('app/z', { durationMs: index }))
    // 68 lines for 2 live entries: not above 2 × 2 + 64
    const before = await readFile(file(), 'utf8')
    expect(before.split('\n')).toHaveLength(1 + 68 + 1)
    await ledger.record(entryOf('app/z', { durationMs: 66 }))
    expect(await readFile(join(root, '.flux', 'ledger.1.jsonl'), 'utf8')).toBe(
      '{"flux":"ledger","version":3,"generation":1}\n' +
        line({ record: entryOf('app/z', { durationMs: 65 }) }) +
        line({ record: entryOf('app/a') }) +
        line({ record: entryOf('app/z', { durationMs: 66 }) }),
    )
    await ledger.record(entryOf('app/b'))
    expect(await ledger.read()).toEqual([entryOf('app/z', { durationMs: 66 }), entryOf('app/a'), entryOf('app/b')])
    expect(await contentsOf(join(root, '.flux'))).toEqual(['ledger.1.jsonl', 'ledger.jsonl'])
  })

  it('a seal ends the file: lines after it count only when written again in the next generation', async () => {
    const records = line({ record: entryOf('app/a') }) + line({ record: entryOf('app/b') })
    await writeJournal(`${header + records}{"seal":1}\n${line({ record: entryOf('app/late') })}`)
    // sealed, and its successor not created yet (its creator froze): the sealed file is the ledger
    expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/a', 'app/b'])
    await fsStore({ root }).ledger.remove('app/a')
    expect(await readFile(join(root, '.flux', 'ledger.1.jsonl'), 'utf8')).toBe(
      `{"flux":"ledger","version":3,"generation":1}\n${records}${line({ remove: 'app/a' })}`,
    )
    expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/b'])
  })

  it('a generation published late, under the number of one already retired, is never read', async () => {
    const second = join(root, '.flux', 'ledger.2.jsonl')
    await writeJournal('{"flux":"ledger","version":3,"superseded":true}\n')
    await writeFile(second, `{"flux":"ledger","version":3,"generation":2}\n${line({ record: entryOf('app/a') })}`)
    const ledger = fsStore({ root }).ledger
    expect(ids(await ledger.read())).toEqual(['app/a'])
    // sealed and moved on to generation 3, then a creator that had frozen before its link()
    // publishes its own generation 2, built from an older generation 1
    await writeFile(
      join(root, '.flux', 'ledger.3.jsonl'),
      `{"flux":"ledger","version":3,"generation":3}\n${line({ record: entryOf('app/a') })}${line({ record: entryOf('app/b') })}`,
    )
    await rm(second)
    await writeFile(second, '{"flux":"ledger","version":3,"generation":2}\n')
    expect(ids(await ledger.read())).toEqual(['app/a', 'app/b'])
    await ledger.record(entryOf('app/c'))
    expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/a', 'app/b', 'app/c'])
  })

  it('reads back correctly when two instances (two processes, one after the other) write it in turn', async () => {
    const first = fsStore({ root }).ledger
    const second = fsStore({ root }).ledger
    await first.record(entryOf('app/a', { status: 'running' }))
    await second.record(entryOf('app/b'))
    await first.record(entryOf('app/a'))
    await second.remove('app/a')
    await first.record(entryOf('app/c'))
    // first never saw second remove app/a: it must still find it gone, not trust what it remembers
    await first.remove('app/a')
    await second.record(entryOf('app/a', { runId: 'r-2' }))
    await first.remove('app/b')
    const expected = [entryOf('app/c'), entryOf('app/a', { runId: 'r-2' })]
    expect(await first.read()).toEqual(expected)
    expect(await second.read()).toEqual(expected)
    expect(await fsStore({ root }).ledger.read()).toEqual(expected)
    // enough writes in turn to compact it, from either instance
    const model = new Map(expected.map((each) => [each.id, each]))
    for (let index = 0; index < 100; index++) {
      const id = `app/n${index}`
      await (index % 2 ? first : second).record(entryOf(id, { status: 'running' }))
      await (index % 3 ? second : first).record(entryOf(id))
      model.set(id, entryOf(id))
      if (index % 4 === 0) {
        await (index % 8 ? first : second).remove(id)
        model.delete(id)
      }
    }
    expect(await first.read()).toEqual([...model.values()])
    expect(await second.read()).toEqual([...model.values()])
    expect(await live()).not.toBe(file())
    const lines = (await readFile(await live(), 'utf8')).split('\n').length - 1
    expect(lines).toBeLessThanOrEqual(1 + 2 * model.size + 64)
  })

  it('a remove of an id it does not remember looks in the file first', async () => {
    const ledger = fsStore({ root }).ledger
    await ledger.record(entryOf('app/a'))
    // rewritten in place to the same size (what this instance cannot notice without reading)
    await writeFile(file(), header + line({ record: entryOf('app/b') }))
    await ledger.remove('app/b')
    expect(await fsStore({ root }).ledger.read()).toEqual([])
  })

  it('reading a store never migrated creates nothing', async () => {
    const ledger = fsStore({ root }).ledger
    expect(await ledger.read()).toEqual([])
    await ledger.remove('app/x')
    expect(await readdir(base)).toEqual([])
  })
})

describe('blobs', () => {
  it('refuses keys in the reserved directory, with backslashes, or named like temp files', async () => {
    const blobs = fsStore({ root }).client()
    for (const key of ['.flux/ledger.jsonl', '.flux', 'a\\b', `photos/.a.jpg.${'0'.repeat(36)}.flux-tmp`]) {
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
    await symlink(join(root, '.flux', 'ledger.jsonl'), join(root, 'ledger-link'))
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
    expect(await contentsOf(root)).toEqual(['.flux', '.flux/ledger.jsonl', 'a', 'a/two.txt', 'b', 'b/one.txt'])
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
