import { type FileHandle, mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Adapter, FluxError, type Lease, type LeaseHolder, type LedgerEntry } from '@flux/core'
import { suspendLeaseForTesting } from '@flux/core/testing'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { fsStore } from '../src/index.ts'

let base: string
let root: string
const leases: Lease[] = []
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'flux-fs-fencing-'))
  root = join(base, 'root')
})
afterEach(async () => {
  vi.restoreAllMocks()
  for (const lease of leases.splice(0)) await lease.release()
  await rm(base, { recursive: true, force: true })
})

const file = (name = 'ledger.jsonl') => join(root, '.flux', name)
const lines = async (name?: string) =>
  (await readFile(file(name), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
const header = (fields: Record<string, unknown> = {}) =>
  `${JSON.stringify({ flux: 'ledger', version: 3, ...fields })}\n`
const line = (operation: unknown) => `${JSON.stringify(operation)}\n`
const ids = (entries: LedgerEntry[]) => entries.map((each) => each.id)

const entryOf = (id: string, overrides: Partial<LedgerEntry> = {}): LedgerEntry => ({
  id,
  checksum: 'sha256:00',
  status: 'applied',
  appliedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 5,
  runId: 'r-1',
  fluxVersion: '0.1.0',
  ...overrides,
})

let holders = 0
const holderOf = (runId: string): LeaseHolder => ({
  host: `flux-fencing-${runId}.invalid`,
  pid: 515_000 + ++holders,
  runId,
  since: new Date().toISOString(),
})

async function acquire(store: Adapter, runId: string, ttlMs = 30_000, waitMs = 10_000): Promise<Lease> {
  const lease = await store.acquire({ store: 'photos', ttlMs, waitMs, holder: holderOf(runId) })
  leases.push(lease)
  return lease
}

/** A holder that froze: its lease stops renewing and expires after 600 ms. */
async function frozen(store: Adapter): Promise<Lease> {
  const lease = await acquire(store, 'frozen', 600, 0)
  suspendLeaseForTesting(lease)
  return lease
}

async function rejection(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (!FluxError.is(error)) throw new Error(`expected a FluxError, got ${String(error)}`)
  return error
}

/**
 * Runs `meanwhile` just before the first append whose line includes `marker` reaches the file: the
 * moment a runner can freeze between its last look at the journal and its write.
 */
async function beforeAppendOf(marker: string, meanwhile: () => Promise<void>): Promise<() => boolean> {
  const probe = await open(join(base, 'probe'), 'w')
  const prototype = Object.getPrototypeOf(probe) as FileHandle
  await probe.close()
  const write = prototype.write
  let fired = false
  vi.spyOn(prototype, 'write').mockImplementation(async function (this: FileHandle, ...args: unknown[]) {
    if (!fired && Buffer.isBuffer(args[0]) && args[0].includes(marker)) {
      fired = true
      await meanwhile()
    }
    return (write as (...args: unknown[]) => Promise<unknown>).apply(this, args)
  } as typeof write)
  return () => fired
}

describe('fs fencing: the journal', () => {
  it("has the lease's fence line, then lines under its token; after its own release, lines without one", async () => {
    const store = fsStore({ root })
    const first = await acquire(store, 'first')
    expect(first.epoch).toBe(1)
    const { token } = JSON.parse(await readFile(join(root, '.flux', 'lease.json'), 'utf8'))
    expect(await store.inspectLease()).toMatchObject({ runId: 'first', epoch: 1 })
    await store.ledger.record(entryOf('app/a'))
    await first.release()
    await store.ledger.record(entryOf('app/b'))
    const second = await acquire(fsStore({ root }), 'second')
    expect(second.epoch).toBe(2)
    const [, fence1, recordA, recordB, fence2] = await lines()
    expect(fence1).toEqual({
      fence: { token, epoch: 1, prev: null, holder: expect.objectContaining({ runId: 'first' }) },
    })
    expect(recordA).toEqual({ record: entryOf('app/a'), lease: token })
    expect(recordB).toEqual({ record: entryOf('app/b') })
    expect(fence2).toMatchObject({ fence: { epoch: 2, prev: token, holder: { runId: 'second' } } })
  })

  it('counts a line only under the current fence, and a fence only over the one it names', async () => {
    const fence = (token: string, epoch: number, prev: string | null) =>
      line({ fence: { token, epoch, prev, holder: holderOf(token) } })
    await mkdir(join(root, '.flux'), { recursive: true })
    await writeFile(
      file(),
      header() +
        fence('A', 1, null) +
        line({ record: entryOf('app/x'), lease: 'A' }) +
        fence('B', 2, 'A') +
        line({ record: entryOf('app/stale'), lease: 'A' }) + // A was taken over: void
        line({ remove: 'app/x', lease: 'A' }) + // void
        line({ record: entryOf('app/y'), lease: 'B' }) +
        fence('C', 2, 'A') + // appended late by a runner that had seen only A: void
        line({ record: entryOf('app/late'), lease: 'C' }) + // void
        '{"record":{"id":"app/to\t(torn)\n' + // a torn append, ended and marked by the next one
        '\t(torn)\n' + // two appenders found it torn: the second marks an empty line
        line({ record: entryOf('app/unleased') }), // written holding no lease: counts
    )
    const store = fsStore({ root })
    expect(ids(await store.ledger.read())).toEqual(['app/x', 'app/y', 'app/unleased'])
    // the next holder's fence follows B, the current one
    expect((await acquire(store, 'next')).epoch).toBe(3)
    const last = (await readFile(file(), 'utf8')).trim().split('\n').at(-1)
    expect(JSON.parse(last!)).toMatchObject({ fence: { epoch: 3, prev: 'B' } })
  })

  it('reads a version 2 journal; the first write moves it to version 3, which older versions refuse', async () => {
    const v2 = `{"flux":"ledger","version":2}\n${line({ record: entryOf('app/a') })}${line({ record: entryOf('app/b') })}${line({ remove: 'app/a' })}`
    await mkdir(join(root, '.flux'), { recursive: true })
    await writeFile(file(), v2)
    const store = fsStore({ root })
    expect(ids(await store.ledger.read())).toEqual(['app/b'])
    const lease = await acquire(store, 'upgrader')
    await store.ledger.record(entryOf('app/c'))
    // an older @flux/fs reads ledger.jsonl, finds version 3, and asks to be upgraded
    expect(await readFile(file(), 'utf8')).toBe(header({ superseded: true }))
    const [head, recordB, fence, recordC] = await lines('ledger.1.jsonl')
    expect(head).toEqual({ flux: 'ledger', version: 3, generation: 1 })
    expect(recordB).toEqual({ record: entryOf('app/b') })
    expect(fence).toMatchObject({ fence: { epoch: 1, prev: null } })
    expect(recordC).toMatchObject({ record: entryOf('app/c') })
    expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/b', 'app/c'])
    await lease.release()
  })
})

describe('fs fencing: a runner that froze between its last look at the journal and its write', () => {
  it('whose line lands after the take-over: the line counts for nobody, and the write rejects LEASE_LOST saying so', async () => {
    const [stale, next] = [fsStore({ root }), fsStore({ root })]
    await frozen(stale)
    await stale.ledger.record(entryOf('app/in-flight', { status: 'running' }))
    let newHolder: LeaseHolder | undefined
    const fired = await beforeAppendOf('app/stale-write', async () => {
      const lease = await acquire(next, 'next')
      newHolder = (await next.inspectLease())!
      expect(lease.epoch).toBe(2)
      await next.ledger.record(entryOf('app/by-next'))
    })
    const error = await rejection(stale.ledger.record(entryOf('app/stale-write')))
    expect(fired()).toBe(true)
    expect(error.code).toBe('LEASE_LOST')
    expect(error.message).toContain('does not count')
    expect(error.message).toContain(`pid ${newHolder?.pid} on ${newHolder?.host}`)
    expect(error.details).toMatchObject({ holder: { runId: 'next', epoch: 2 } })
    // the line is in the file, after the new fence, and void for every reader
    expect((await lines()).at(-1)).toMatchObject({ record: { id: 'app/stale-write' } })
    expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/in-flight', 'app/by-next'])
    await next.ledger.record(entryOf('app/in-flight'))
    expect(await fsStore({ root }).ledger.read()).toEqual([entryOf('app/in-flight'), entryOf('app/by-next')])
  })

  it('and compacts: its seal lands after the new holder lines, which go on intact in the next generation', async () => {
    const [stale, next] = [fsStore({ root }), fsStore({ root })]
    await frozen(stale)
    await stale.ledger.record(entryOf('app/a'))
    for (let index = 0; index < 64; index++) await stale.ledger.record(entryOf('app/b', { durationMs: index }))
    // 67 lines: a remove compacts (1 live: above 2 × 1 + 64); the next holder's fence and record do not
    const fired = await beforeAppendOf('"seal"', async () => {
      await acquire(next, 'next')
      await next.ledger.record(entryOf('app/by-next'))
    })
    const error = await rejection(stale.ledger.remove('app/b'))
    expect(fired()).toBe(true)
    expect(error.code).toBe('LEASE_LOST')
    // the new generation starts from everything before the seal: the new holder's fence and line included
    const [head] = await lines('ledger.1.jsonl')
    expect(head).toMatchObject({ generation: 1, fence: { epoch: 2, holder: { runId: 'next' } } })
    expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/a', 'app/b', 'app/by-next'])
    await next.ledger.record(entryOf('app/after'))
    expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/a', 'app/b', 'app/by-next', 'app/after'])
    expect((await readdir(join(root, '.flux'))).filter((name) => name.endsWith('.jsonl')).sort()).toEqual([
      'ledger.1.jsonl',
      'ledger.jsonl',
    ])
  })

  it('after winning lease.json, before its fence landed: the fence counts for nobody, and it never holds the lease', async () => {
    const [slow, next] = [fsStore({ root }), fsStore({ root })]
    let nextLease: Lease | undefined
    const fired = await beforeAppendOf('"prev":null,"holder":{"host":"flux-fencing-slow', async () => {
      nextLease = await acquire(next, 'next')
    })
    const error = await rejection(acquire(slow, 'slow', 600, 0))
    expect(fired()).toBe(true)
    expect(error.code).toBe('LEASE_TIMEOUT')
    expect(nextLease?.epoch).toBe(1)
    const fences = (await lines()).filter((each) => 'fence' in each)
    expect(fences).toMatchObject([
      { fence: { epoch: 1, prev: null, holder: { runId: 'next' } } },
      { fence: { epoch: 1, prev: null, holder: { runId: 'slow' } } },
    ])
    await next.ledger.record(entryOf('app/by-next'))
    // the slow runner's instance holds no lease: it writes unconditionally, as `flux mark` does
    await slow.ledger.record(entryOf('app/unleased'))
    expect(ids(await fsStore({ root }).ledger.read())).toEqual(['app/by-next', 'app/unleased'])
    expect(await slow.inspectLease()).toMatchObject({ runId: 'next', epoch: 1 })
  })
})
