import { randomUUID } from 'node:crypto'
import { link, mkdir, open, readdir, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import {
  type AcquireOptions,
  createLease,
  DEFAULT_LEASE_TTL_MS,
  FluxError,
  isHolderGone,
  type Lease,
  type LeaseHolder,
  pollForLease,
} from '@flux/core'
import type { Fence } from './fs-journal.ts'
import type { FsJournal, HeldLease } from './fs-ledger.ts'
import { type FsPaths, ignoreMissing, isErrorCode, storeError } from './fs-options.ts'

/** Heartbeat and claim files older than this are pruned; long after any racer could still use them. */
const PRUNE_AFTER_MS = 60 * 60 * 1000

/** `lease.json` as read: its token, and who wrote it (unknown when the file is unreadable). */
interface CurrentLease {
  token: string
  holder: LeaseHolder | undefined
  ttlMs: number | undefined
  mtimeMs: number
}

export interface FsLease {
  acquire(options: AcquireOptions): Promise<Lease>
  inspect(): Promise<LeaseHolder | undefined>
  breakLease(): Promise<LeaseHolder | undefined>
}

/**
 * The lease: `lease.json`, whose content never changes for a given token, plus per-token
 * `heartbeat-<token>` (mtime = last renewal) and `claim-<token>` files in `leases/`.
 *
 * lease.json decides who may hold the lease; the journal decides whose ledger writes count. The
 * winner of lease.json appends a fence line with its token to the journal before acquire()
 * resolves, and its instance then writes every ledger line under that token (`held`): a runner
 * that froze past its ttl and was taken over writes lines that come after the new holder's
 * fence, which count for nobody. `flux unlock` appends a fence with a token nobody holds.
 */
export function fsLease(paths: FsPaths, journal: FsJournal, held: HeldLease): FsLease {
  const heartbeatOf = (token: string) => join(paths.leases, `heartbeat-${token}`)
  // claim-<token> is the one right to move lease.json away from <token>; generation n > 0
  // replaces a claim whose owner died between claiming and moving (see claimTransition)
  const claimOf = (token: string, generation = 0) =>
    join(paths.leases, generation === 0 ? `claim-${token}` : `claim-${token}.${generation}`)

  const readCurrent = async (): Promise<CurrentLease | undefined> => {
    let text: string
    let mtimeMs: number
    let ino: number
    try {
      const handle = await open(paths.lease, 'r')
      try {
        ;({ mtimeMs, ino } = await handle.stat())
        text = await handle.readFile('utf8')
      } finally {
        await handle.close()
      }
    } catch (error) {
      if (isErrorCode(error, 'ENOENT')) return undefined
      throw storeError(paths, `read the lease ${paths.lease}`, error)
    }
    const parsed = parseLeaseFile(text)
    // unreadable only after an OS crash or a hand edit: its inode stands for the token
    return parsed
      ? { ...parsed, mtimeMs }
      : { token: `unreadable-${ino}-${Math.trunc(mtimeMs)}`, holder: undefined, ttlMs: undefined, mtimeMs }
  }

  /** When `current` expires: its heartbeat's mtime (or, before the first one, the file's) plus its ttl. */
  const expiresAt = async (current: CurrentLease, fallbackTtlMs: number): Promise<number> => {
    const beat = await mtimeOf(heartbeatOf(current.token))
    return (beat ?? current.mtimeMs) + (current.ttlMs ?? fallbackTtlMs)
  }

  const shown = (current: CurrentLease, expires: number): LeaseHolder => {
    const since = new Date(current.mtimeMs).toISOString()
    const holder = current.holder ?? { host: 'unknown', pid: 0, runId: 'unknown', since }
    return { ...holder, expiresAt: new Date(expires).toISOString() }
  }

  /**
   * Tries to own the one transition of lease.json away from `current`: creates its claim
   * file exclusively. A claim whose owner left lease.json unchanged for `graceMs` is
   * abandoned (its owner died in between), and the next generation may be claimed.
   */
  const claimTransition = async (current: CurrentLease, graceMs: number): Promise<boolean> => {
    for (let generation = 0; ; generation++) {
      if (await createExclusive(claimOf(current.token, generation))) return true
      const claimed = await mtimeOf(claimOf(current.token, generation))
      if (claimed !== undefined && claimed + graceMs >= Date.now()) return false
      if ((await readCurrent())?.token !== current.token) return false
    }
  }

  const createExclusive = async (file: string): Promise<boolean> => {
    for (let tries = 0; ; tries++) {
      try {
        await writeFile(file, `${process.pid}\n`, { flag: 'wx' })
        return true
      } catch (error) {
        if (isErrorCode(error, 'EEXIST')) return false
        if (!isErrorCode(error, 'ENOENT') || tries > 0) throw error
      }
      await mkdir(paths.leases, { recursive: true })
    }
  }

  /** Removes lease.json if it is still `token`'s; whether it was. */
  const giveUp = async (token: string): Promise<boolean> => {
    // like a take-over, removing lease.json needs the claim on its token
    if (!(await createExclusive(claimOf(token))) || (await readCurrent())?.token !== token) return false
    await unlink(paths.lease).catch(ignoreMissing)
    return true
  }

  const leaseFor = (store: string, token: string, ttlMs: number, epoch: number): Lease => {
    const heartbeat = heartbeatOf(token)
    return createLease({
      ttlMs,
      store,
      epoch,
      async renew() {
        try {
          const now = new Date()
          const touched = await utimes(heartbeat, now, now).then(
            () => true,
            (error: unknown) => (isErrorCode(error, 'ENOENT') ? false : Promise.reject(error)),
          )
          if ((await readCurrent())?.token !== token) return false
          if ((await mtimeOf(claimOf(token))) !== undefined) return false
          if (!touched) await writeFile(heartbeat, '')
          return true
        } catch (error) {
          throw storeError(paths, 'renew the lease', error)
        }
      },
      async release() {
        try {
          // a lease taken over or broken stays fenced: its writes keep being refused
          if ((await giveUp(token)) && held.token === token) held.token = undefined
          await unlink(heartbeat).catch(ignoreMissing)
        } catch (error) {
          throw storeError(paths, 'release the lease', error)
        }
      },
    })
  }

  const attempt = async (options: AcquireOptions): Promise<{ lease: Lease } | { holder: LeaseHolder | undefined }> => {
    const token = randomUUID()
    const temp = join(paths.dir, `lease-${token}.tmp`)
    let won = false
    try {
      await mkdir(paths.leases, { recursive: true })
      await writeFile(heartbeatOf(token), '', { flag: 'wx' })
      await writeFile(temp, JSON.stringify({ token, holder: options.holder, ttlMs: options.ttlMs }), { flag: 'wx' })
      for (let tries = 0; tries < 3; tries++) {
        // the lock primitive: link() publishes a complete file, or fails with EEXIST, atomically
        won = await link(temp, paths.lease).then(
          () => true,
          (error: unknown) => (isErrorCode(error, 'EEXIST') ? false : Promise.reject(error)),
        )
        if (won) return await fenced(options, token)
        const current = await readCurrent()
        if (!current) continue
        const expires = await expiresAt(current, options.ttlMs)
        const stale = expires < Date.now() || (current.holder !== undefined && isHolderGone(current.holder))
        if (!stale || !(await claimTransition(current, current.ttlMs ?? options.ttlMs))) {
          return { holder: current.holder && shown(current, expires) }
        }
        // only the owner of the claim on current.token may replace it, so nobody else did
        await rename(temp, paths.lease)
        won = true
        return await fenced(options, token)
      }
      return { holder: undefined }
    } catch (error) {
      throw storeError(paths, 'take the lease', error)
    } finally {
      await unlink(temp).catch(ignoreMissing)
      if (!won) await unlink(heartbeatOf(token)).catch(ignoreMissing)
    }
  }

  /** Once lease.json is `token`'s: fences the journal with it, and holds the lease from there on. */
  const fenced = async (options: AcquireOptions, token: string): Promise<{ lease: Lease } | { holder: undefined }> => {
    let fence: Fence | undefined
    try {
      fence = await journal.appendFence({ token, holder: options.holder }, async () => {
        return (await readCurrent())?.token === token
      })
    } catch (error) {
      // the journal could not be fenced: free lease.json rather than leave others to wait out its
      // ttl; should that fail as well, the error to report is still the first one
      await giveUp(token).catch(() => {})
      await unlink(heartbeatOf(token)).catch(ignoreMissing)
      throw error
    }
    if (!fence) {
      // taken over (or broken) before our fence was in: never held, try again
      await unlink(heartbeatOf(token)).catch(ignoreMissing)
      return { holder: undefined }
    }
    held.token = token
    return { lease: leaseFor(options.store, token, options.ttlMs, fence.epoch) }
  }

  return {
    async acquire(options) {
      await prune(paths, readCurrent)
      return pollForLease({ ...options, attempt: () => attempt(options) })
    },

    async inspect() {
      const current = await readCurrent()
      if (!current) return undefined
      const holder = shown(current, await expiresAt(current, DEFAULT_LEASE_TTL_MS))
      const fence = await journal.currentFence()
      return fence?.token === current.token ? { ...holder, epoch: fence.epoch } : holder
    },

    async breakLease() {
      const deadline = Date.now() + 5_000
      while (Date.now() < deadline) {
        const current = await readCurrent()
        if (!current) return undefined
        const expires = await expiresAt(current, DEFAULT_LEASE_TTL_MS)
        if (await claimTransition(current, 1_000)) {
          // fence the holder first: from its fence on, no line of its own counts, whoever holds the lease next
          const broken = await journal.appendFence({ token: randomUUID(), broken: true }, async () => {
            return (await readCurrent())?.token === current.token
          })
          if (!broken) continue
          await unlink(paths.lease).catch(ignoreMissing)
          return shown(current, expires)
        }
        // someone is releasing or taking over this very lease: look again
        await sleep(50)
      }
      throw new FluxError('STORE_ERROR', `the lease of ${paths.description} kept changing hands; it was not broken`, {
        hint: 'another runner is taking and releasing it right now; run `flux unlock` again when it is idle',
      })
    },
  }
}

function parseLeaseFile(text: string): Omit<CurrentLease, 'mtimeMs'> | undefined {
  try {
    const { token, holder, ttlMs } = JSON.parse(text) as { token?: unknown; holder?: LeaseHolder; ttlMs?: unknown }
    // the token names files: only what randomUUID() writes
    if (typeof token !== 'string' || !/^[\w-]{1,100}$/.test(token) || typeof ttlMs !== 'number') return undefined
    if (typeof holder?.host !== 'string' || typeof holder.pid !== 'number') return undefined
    return { token, holder, ttlMs }
  } catch {
    return undefined
  }
}

async function mtimeOf(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mtimeMs
  } catch (error) {
    if (isErrorCode(error, 'ENOENT')) return undefined
    throw error
  }
}

/** Removes leftovers of finished and crashed runs: old heartbeat, claim and temp files. */
async function prune(paths: FsPaths, readCurrent: () => Promise<CurrentLease | undefined>): Promise<void> {
  const current = await readCurrent()
  const old = Date.now() - PRUNE_AFTER_MS
  for (const [directory, pattern] of [
    [paths.leases, /^(heartbeat|claim)-/],
    [paths.dir, /\.tmp$/],
  ] as const) {
    const names = await readdir(directory).catch((error: unknown) => {
      ignoreMissing(error)
      return []
    })
    for (const name of names) {
      if (!pattern.test(name) || (current && name.includes(current.token))) continue
      const file = join(directory, name)
      if (((await mtimeOf(file)) ?? Number.POSITIVE_INFINITY) < old) await unlink(file).catch(ignoreMissing)
    }
  }
}
