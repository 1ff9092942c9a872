import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { hostname } from 'node:os'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Lease, LeaseHolder } from './adapter.ts'
import { FluxError } from './errors.ts'
import { createLease, describeHolder, isHolderGone, noticeGoneHolders, pollForLease } from './lease.ts'
import { suspendLeaseForTesting } from './testing/index.ts'

const holder: LeaseHolder = {
  host: 'build-7.example',
  pid: 48213,
  runId: 'r-20260101-abc',
  since: '2026-01-01T12:00:01.000Z',
}

async function rejection(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (!FluxError.is(error)) throw new Error(`expected a FluxError, got ${String(error)}`)
  return error
}

describe('createLease', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('renews every third of ttlMs until released', async () => {
    vi.useFakeTimers()
    const renew = vi.fn(async () => true)
    const release = vi.fn(async () => {})
    const lease = createLease({ ttlMs: 300, renew, release, store: 'photos' })
    await vi.advanceTimersByTimeAsync(350)
    expect(renew).toHaveBeenCalledTimes(3)
    await lease.release()
    await vi.advanceTimersByTimeAsync(1_000)
    expect(renew).toHaveBeenCalledTimes(3)
    expect(release).toHaveBeenCalledTimes(1)
    expect(lease.lost.aborted).toBe(false)
  })

  it('fires lost with LEASE_LOST naming the store when renew says the lease is gone, and stops renewing', async () => {
    vi.useFakeTimers()
    const renew = vi.fn(async () => false)
    const release = vi.fn(async () => {})
    const lease = createLease({ ttlMs: 300, renew, release, store: 'photos' })
    await vi.advanceTimersByTimeAsync(100)
    expect(lease.lost.aborted).toBe(true)
    const reason = lease.lost.reason as unknown
    expect(FluxError.is(reason) && reason.code).toBe('LEASE_LOST')
    expect((reason as FluxError).message).toContain('"photos"')
    await vi.advanceTimersByTimeAsync(1_000)
    expect(renew).toHaveBeenCalledTimes(1)
    expect((await rejection(lease.renew())).code).toBe('LEASE_LOST')
    // a lost lease is not ours to remove
    await lease.release()
    expect(release).not.toHaveBeenCalled()
  })

  it('fires lost when renew rejects with LEASE_LOST', async () => {
    const lease = createLease({
      ttlMs: 30_000,
      renew: async () => {
        throw new FluxError('LEASE_LOST', 'taken over')
      },
      release: async () => {},
    })
    expect((await rejection(lease.renew())).code).toBe('LEASE_LOST')
    expect(lease.lost.aborted).toBe(true)
  })

  it('retries other renew failures, and fires lost only once the lease would have expired', async () => {
    vi.useFakeTimers()
    const outage = new Error('connection reset')
    const renew = vi.fn(async (): Promise<boolean> => {
      throw outage
    })
    const lease = createLease({ ttlMs: 300, renew, release: async () => {} })
    await vi.advanceTimersByTimeAsync(250)
    expect(renew).toHaveBeenCalledTimes(2)
    expect(lease.lost.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(100)
    expect(lease.lost.aborted).toBe(true)
    expect((lease.lost.reason as FluxError).cause).toBe(outage)
  })

  it('renew() after release does nothing', async () => {
    const renew = vi.fn(async () => true)
    const lease = createLease({ ttlMs: 30_000, renew, release: async () => {} })
    await lease.renew()
    await lease.release()
    await lease.renew()
    expect(renew).toHaveBeenCalledTimes(1)
  })

  it('suspendLeaseForTesting stops the renewal timer', async () => {
    vi.useFakeTimers()
    const renew = vi.fn(async () => true)
    const lease = createLease({ ttlMs: 300, renew, release: async () => {} })
    await vi.advanceTimersByTimeAsync(110)
    expect(renew).toHaveBeenCalledTimes(1)
    suspendLeaseForTesting(lease)
    await vi.advanceTimersByTimeAsync(1_000)
    expect(renew).toHaveBeenCalledTimes(1)
    expect(Object.keys(lease)).not.toContain('suspend')
  })

  it('suspendLeaseForTesting refuses a lease not built by createLease', () => {
    const handmade: Lease = { renew: async () => {}, release: async () => {}, lost: new AbortController().signal }
    expect(() => suspendLeaseForTesting(handmade)).toThrow(/createLease/)
  })
})

describe('pollForLease', () => {
  const lease: Lease = { renew: async () => {}, release: async () => {}, lost: new AbortController().signal }

  it('retries until the attempt takes the lease, reporting the holder through onWait', async () => {
    let attempts = 0
    const seen: (LeaseHolder | undefined)[] = []
    const result = await pollForLease({
      store: 'photos',
      ttlMs: 1_000,
      waitMs: 5_000,
      holder,
      intervalMs: 1,
      onWait: (current) => seen.push(current),
      attempt: async () => (++attempts < 3 ? { holder } : { lease }),
    })
    expect(result).toBe(lease)
    expect(attempts).toBe(3)
    // at most about once a second
    expect(seen).toEqual([holder])
  })

  it('fails with LEASE_TIMEOUT naming the store and the holder, with a hint to unlock', async () => {
    const started = Date.now()
    const error = await rejection(
      pollForLease({ store: 'photos', ttlMs: 1_000, waitMs: 150, holder, attempt: async () => ({ holder }) }),
    )
    expect(Date.now() - started).toBeGreaterThanOrEqual(140)
    expect(error.code).toBe('LEASE_TIMEOUT')
    expect(error.exitCode).toBe(4)
    expect(error.message).toContain('"photos"')
    expect(error.message).toContain('pid 48213 on build-7.example')
    expect(error.message).toContain('r-20260101-abc')
    expect(error.hint).toContain('flux unlock photos')
    expect(error.details).toEqual({ holder })
  })

  it('says "an unknown holder" when the holder could not be read', async () => {
    const error = await rejection(
      pollForLease({ store: 'photos', ttlMs: 1_000, waitMs: 0, holder, attempt: async () => ({ holder: undefined }) }),
    )
    expect(error.message).toContain('an unknown holder')
  })

  it('fails with INTERRUPTED soon after the signal aborts', async () => {
    const started = Date.now()
    const error = await rejection(
      pollForLease({
        store: 'photos',
        ttlMs: 1_000,
        waitMs: 20_000,
        holder,
        signal: AbortSignal.timeout(100),
        attempt: async () => ({ holder }),
      }),
    )
    expect(error.code).toBe('INTERRUPTED')
    expect(Date.now() - started).toBeLessThan(5_000)
  })
})

describe('isHolderGone', () => {
  const local = (pid: number): LeaseHolder => ({ ...holder, host: hostname(), pid })

  it('is true for a process of this host that has exited', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    const pid = child.pid
    if (pid === undefined) throw new Error('could not start a child process')
    await once(child, 'exit')
    expect(isHolderGone(local(pid))).toBe(true)
  })

  it('is false for a live process of this host, and for this process', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)'], { stdio: 'ignore' })
    try {
      expect(isHolderGone(local(child.pid!))).toBe(false)
      expect(isHolderGone({ ...local(process.pid), since: new Date().toISOString() })).toBe(false)
    } finally {
      child.kill()
      await once(child, 'exit')
    }
  })

  it('is true for this pid when the lease is older than this process (a pid reused, as pid 1 in a container)', () => {
    const before = new Date(Date.now() - process.uptime() * 1000 - 60_000).toISOString()
    expect(isHolderGone({ ...local(process.pid), since: before })).toBe(true)
    expect(isHolderGone({ ...local(process.pid), since: 'unknown' })).toBe(false)
  })

  it.runIf(process.platform === 'linux')(
    'is true for a process that exited and that nobody reaped (a zombie)',
    async () => {
      // the shell execs sleep, whose child `true` exits unreaped while sleep runs
      const parent = spawn('sh', ['-c', 'true & exec sleep 30'], { stdio: 'ignore' })
      try {
        const { readFileSync } = await import('node:fs')
        const children = () => readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim()
        const deadline = Date.now() + 5_000
        while (children() === '' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10))
        const zombie = Number(children().split(' ')[0])
        while (!readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z') && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        expect(isHolderGone(local(zombie))).toBe(true)
      } finally {
        parent.kill()
        await once(parent, 'exit')
      }
    },
  )

  it('is false for a holder on another host, whatever its pid', () => {
    expect(isHolderGone({ ...holder, host: `not-${hostname()}`, pid: 2 ** 22 + 1 })).toBe(false)
  })
})

describe('noticeGoneHolders', () => {
  const local = (pid: number): LeaseHolder => ({ ...holder, host: hostname(), pid })

  it('says whose lease an acquisition took over because its holder was gone, through the polls', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    await once(child, 'exit')
    const dead = local(child.pid!)
    let polls = 0
    const { value, gone } = await noticeGoneHolders(() =>
      pollForLease({
        store: 'photos',
        ttlMs: 1_000,
        waitMs: 5_000,
        holder,
        intervalMs: 1,
        attempt: async () => {
          polls += 1
          // an adapter's attempt: a dead holder's lease is taken at once, on the second poll
          await new Promise((resolve) => setTimeout(resolve, 1))
          if (polls === 1) return { holder: local(process.pid) }
          return isHolderGone(dead) ? { lease: 'taken' as unknown as Lease } : { holder: dead }
        },
      }),
    )
    expect(value).toBe('taken')
    expect(gone).toEqual(dead)
  })

  it('says nothing when the lease was free, even if an earlier poll judged a holder gone', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    await once(child, 'exit')
    let polls = 0
    const result = await noticeGoneHolders(() =>
      pollForLease({
        store: 'photos',
        ttlMs: 1_000,
        waitMs: 5_000,
        holder,
        intervalMs: 1,
        attempt: async () => {
          polls += 1
          // judged gone, but another runner was quicker: this poll did not take it over
          if (polls === 1) return isHolderGone(local(child.pid!)) ? { holder: local(process.pid) } : { holder }
          return { lease: 'taken' as unknown as Lease }
        },
      }),
    )
    expect(result).toEqual({ value: 'taken' })
  })
})

describe('describeHolder', () => {
  it('names pid, host, since and run', () => {
    expect(describeHolder(holder)).toBe(
      'pid 48213 on build-7.example since 2026-01-01T12:00:01.000Z (run r-20260101-abc)',
    )
    expect(describeHolder(undefined)).toBe('an unknown holder')
  })
})
