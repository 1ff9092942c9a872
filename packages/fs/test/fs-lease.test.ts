import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { FluxError, type LeaseHolder } from '@flux/core'
import { suspendLeaseForTesting } from '@flux/core/testing'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fsStore } from '../src/index.ts'

const CHILD = fileURLToPath(new URL('./fixtures/lease-child.ts', import.meta.url))

let base: string
let root: string
const children: ChildProcess[] = []
beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'flux-fs-lease-'))
  root = join(base, 'root')
})
afterEach(async () => {
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  await rm(base, { recursive: true, force: true })
})

const me = (runId: string): LeaseHolder => ({
  host: hostname(),
  pid: process.pid,
  runId,
  since: new Date().toISOString(),
})

async function rejection(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (!FluxError.is(error)) throw new Error(`expected a FluxError, got ${String(error)}`)
  return error
}

function startChild(...args: string[]): ChildProcess {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.push(child)
  return child
}

/** Resolves with the child's first message; fails if it exits first. */
function messageFrom(child: ChildProcess): Promise<unknown> {
  return new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code, signal) =>
      reject(new Error(`child ${child.pid} exited (${code ?? signal}) before saying anything`)),
    )
  })
}

describe('fs lease across processes', () => {
  it('6 processes started together each get the lease once, never two at a time', async () => {
    const work = join(base, 'work')
    await mkdir(work)
    const racers = Array.from({ length: 6 }, () => startChild('race', root, work))
    await Promise.all(racers.map(messageFrom))
    const exits = racers.map((child) => once(child, 'exit'))
    for (const child of racers) child.send('go')
    expect((await Promise.all(exits)).map(([code]) => code)).toEqual([0, 0, 0, 0, 0, 0])
    const lines = (await readFile(join(work, 'log'), 'utf8')).trim().split('\n')
    expect(lines).not.toContain('overlap')
    expect(lines.map(Number).sort()).toEqual(racers.map((child) => child.pid).sort())
    expect(await fsStore({ root }).inspectLease()).toBeUndefined()
  }, 60_000)

  it("takes over a SIGKILLed holder's lease at once, without waiting for its ttl", async () => {
    const child = startChild('hold', root)
    expect(await messageFrom(child)).toBe('acquired')
    const store = fsStore({ root })
    const timeout = await rejection(
      store.acquire({ store: 'photos', ttlMs: 60_000, waitMs: 200, holder: me('blocked') }),
    )
    expect(timeout.code).toBe('LEASE_TIMEOUT')
    expect(timeout.message).toContain(`pid ${child.pid}`)
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
    const started = Date.now()
    const lease = await store.acquire({ store: 'photos', ttlMs: 60_000, waitMs: 10_000, holder: me('next') })
    expect(Date.now() - started).toBeLessThan(2_000)
    expect((await store.inspectLease())?.runId).toBe('next')
    await lease.release()
  }, 30_000)
})

describe('fs journal across processes', () => {
  it('5 processes writing at once lose no write, through the compactions their appends cause', async () => {
    const names = ['a', 'b', 'c', 'd', 'e']
    const writers = names.map((name) => startChild('write', root, name))
    const exits = await Promise.all(writers.map((child) => once(child, 'exit')))
    expect(exits.map(([code]) => code)).toEqual([0, 0, 0, 0, 0])
    const entries = await fsStore({ root }).ledger.read()
    for (const name of names) {
      // each writer's entries, in the order it recorded them: all applied, every third removed
      const expected = Array.from({ length: 200 }, (_, index) => index).filter((index) => index % 3 !== 0)
      const own = entries.filter((entry) => entry.id.startsWith(`app/${name}-`))
      expect(own.map((entry) => Number(entry.id.split('-')[1]))).toEqual(expected)
      expect(own.every((entry) => entry.status === 'applied')).toBe(true)
    }
    const files = (await readdir(join(root, '.flux'))).filter((file) => file.endsWith('.jsonl'))
    expect(files).toHaveLength(2)
  }, 60_000)
})

describe('fs fencing across processes', () => {
  it('a holder frozen with SIGSTOP past its ttl and taken over has its ledger write refused when thawed, naming the new holder', async () => {
    const child = startChild('stale', root)
    expect(await messageFrom(child)).toBe('recorded')
    child.kill('SIGSTOP')
    const store = fsStore({ root })
    const next = await store.acquire({ store: 'photos', ttlMs: 30_000, waitMs: 10_000, holder: me('next') })
    expect(next.epoch).toBe(2)
    const [running] = await store.ledger.read()
    expect(running).toMatchObject({ id: 'app/in-flight', status: 'running', runId: `child-${child.pid}` })
    await store.ledger.record({ ...running!, status: 'applied', runId: 'next' })
    const answer = messageFrom(child)
    child.kill('SIGCONT')
    // thawed, the child writes `applied` as its migration finished
    child.send('write')
    const refused = (await answer) as { code?: string; message?: string }
    expect(refused.code).toBe('LEASE_LOST')
    expect(refused.message).toContain('taken over')
    expect(refused.message).toContain(`pid ${process.pid} on ${hostname()}`)
    expect(await fsStore({ root }).ledger.read()).toEqual([{ ...running, status: 'applied', runId: 'next' }])
    await next.release()
  }, 30_000)
})

describe('fs lease files', () => {
  const leaseFile = () => join(root, '.flux', 'lease.json')

  it('holds lease.json while held, and removes it on release', async () => {
    const store = fsStore({ root })
    const lease = await store.acquire({ store: 'photos', ttlMs: 30_000, waitMs: 0, holder: me('one') })
    const { token, holder, ttlMs } = JSON.parse(await readFile(leaseFile(), 'utf8'))
    expect(holder).toMatchObject({ host: hostname(), pid: process.pid, runId: 'one' })
    expect(ttlMs).toBe(30_000)
    expect(await readdir(join(root, '.flux', 'leases'))).toEqual([`heartbeat-${token}`])
    await lease.release()
    // the journal keeps the lease's fence
    expect((await readdir(join(root, '.flux'))).sort()).toEqual(['leases', 'ledger.jsonl'])
    // the claim stays, so a racer that read the old token cannot claim it any more
    expect(await readdir(join(root, '.flux', 'leases'))).toEqual([`claim-${token}`])
  })

  it('treats an unreadable lease.json as held until it is older than the ttl', async () => {
    await mkdir(join(root, '.flux'), { recursive: true })
    await writeFile(leaseFile(), '{"token": "trunc')
    const store = fsStore({ root })
    expect(await store.inspectLease()).toMatchObject({ host: 'unknown', runId: 'unknown' })
    const timeout = await rejection(
      store.acquire({ store: 'photos', ttlMs: 30_000, waitMs: 100, holder: me('waiting') }),
    )
    expect(timeout.message).toContain('an unknown holder')
    const minuteAgo = new Date(Date.now() - 60_000)
    await utimes(leaseFile(), minuteAgo, minuteAgo)
    const lease = await store.acquire({ store: 'photos', ttlMs: 30_000, waitMs: 0, holder: me('after') })
    expect((await store.inspectLease())?.runId).toBe('after')
    await lease.release()
  })

  it('takes over from a claimant that died between claiming and replacing lease.json', async () => {
    const store = fsStore({ root })
    const frozen = await store.acquire({ store: 'photos', ttlMs: 1_000, waitMs: 0, holder: me('frozen') })
    suspendLeaseForTesting(frozen)
    const deadline = Date.now() + 5_000
    while (Date.parse((await store.inspectLease())?.expiresAt ?? '') >= Date.now() - 10) {
      if (Date.now() > deadline) throw new Error('the frozen lease did not expire')
      await sleep(20)
    }
    // expired, and someone claimed it (a fresh claim: it may still replace lease.json)
    const { token } = JSON.parse(await readFile(leaseFile(), 'utf8'))
    const claim = join(root, '.flux', 'leases', `claim-${token}`)
    await writeFile(claim, '99999\n')
    const blocked = await rejection(store.acquire({ store: 'photos', ttlMs: 30_000, waitMs: 0, holder: me('blocked') }))
    expect(blocked.code).toBe('LEASE_TIMEOUT')
    // the claim grew older than the frozen lease's ttl: its owner died half-way
    const longAgo = new Date(Date.now() - 2_000)
    await utimes(claim, longAgo, longAgo)
    const next = await store.acquire({ store: 'photos', ttlMs: 30_000, waitMs: 5_000, holder: me('next') })
    expect((await store.inspectLease())?.runId).toBe('next')
    await next.release()
  })

  it('prunes heartbeat and claim files older than an hour when acquiring', async () => {
    const leases = join(root, '.flux', 'leases')
    await mkdir(leases, { recursive: true })
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000)
    for (const name of ['claim-old', 'heartbeat-old']) {
      await writeFile(join(leases, name), '')
      await utimes(join(leases, name), twoHoursAgo, twoHoursAgo)
    }
    await writeFile(join(leases, 'claim-recent'), '')
    // a temp file of a ledger compaction interrupted by a crash
    await writeFile(join(root, '.flux', '.0123456789ab.tmp'), '')
    await utimes(join(root, '.flux', '.0123456789ab.tmp'), twoHoursAgo, twoHoursAgo)
    const lease = await fsStore({ root }).acquire({ store: 'photos', ttlMs: 30_000, waitMs: 0, holder: me('pruner') })
    const names = await readdir(leases)
    expect(names).toContain('claim-recent')
    expect(names).not.toContain('claim-old')
    expect(names).not.toContain('heartbeat-old')
    expect(await readdir(join(root, '.flux'))).not.toContain('.0123456789ab.tmp')
    await lease.release()
  })
})
