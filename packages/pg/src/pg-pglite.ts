import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { FluxError, isHolderGone, type LeaseHolder } from '@flux/core'
import type { Driver, Queryable } from './pg-client.ts'
import type { PgliteInstance } from './pg-options.ts'

/**
 * Opens PGlite on a data directory (or `memory://`), loading `@electric-sql/pglite` only now.
 * PGlite runs inside one process and does not lock its directory: a second process that
 * opened it too would corrupt it. So the directory is claimed with a file beside it,
 * created exclusively, holding this process's pid; one left by a dead process is replaced.
 */
export async function openPglite(dataDir: string, description: string): Promise<Driver> {
  const { PGlite } = await import('@electric-sql/pglite')
  if (dataDir.includes('://')) return pgliteDriver((await PGlite.create(dataDir)) as unknown as PgliteInstance, true)
  await mkdir(dataDir, { recursive: true })
  const unclaim = await claim(dataDir, description)
  let driver: Driver
  try {
    driver = pgliteDriver((await PGlite.create(dataDir)) as unknown as PgliteInstance, true)
  } catch (error) {
    await unclaim()
    throw error
  }
  return {
    ...driver,
    async close() {
      try {
        await driver.close()
      } finally {
        await unclaim()
      }
    },
  }
}

async function claim(dataDir: string, description: string): Promise<() => Promise<void>> {
  const file = join(dirname(dataDir), `.${basename(dataDir)}.flux-open`)
  const owner: LeaseHolder = { host: hostname(), pid: process.pid, runId: '', since: new Date().toISOString() }
  // written whole under a name of its own, then linked to the claim's name, which fails if it
  // exists: another process never reads a claim half-written (nor one left so by a crash)
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(draft, JSON.stringify(owner))
  try {
    for (let tries = 0; ; tries++) {
      try {
        await link(draft, file)
        return () => unlink(file).catch(() => {})
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      }
      const text = await readFile(file, 'utf8').catch(() => undefined)
      // closed meanwhile: claim it now
      if (text === undefined && tries < 3) continue
      const holder = parseHolder(text)
      // a claim that cannot be read was left half-written by a version that wrote it in place
      if (tries === 0 && (!holder || isHolderGone(holder))) {
        await unlink(file).catch(() => {})
        continue
      }
      const who = holder ? `process ${holder.pid} on ${holder.host} since ${holder.since}` : 'another process'
      throw new FluxError('STORE_UNAVAILABLE', `cannot open ${description}: it is open in ${who}`, {
        hint: `PGlite lets one process at a time open a data directory: wait for that one to end; if it is gone, delete ${file}`,
        details: { code: 'IN_USE' },
      })
    }
  } finally {
    await unlink(draft).catch(() => {})
  }
}

function parseHolder(text: string | undefined): LeaseHolder | undefined {
  try {
    const holder = JSON.parse(text ?? '') as Partial<LeaseHolder>
    return typeof holder.pid === 'number' && typeof holder.host === 'string' ? (holder as LeaseHolder) : undefined
  } catch {
    return undefined
  }
}

function wrapPglite(target: Omit<PgliteInstance, 'transaction' | 'close'>): Queryable {
  return {
    async query<Row>(text: string, params?: readonly unknown[]) {
      if (params && params.length > 0) {
        const result = await target.query<Row>(text, [...params])
        return { rows: result.rows, rowCount: result.rowCount ?? result.affectedRows ?? result.rows.length }
      }
      // like a server's simple query protocol: a script without parameters may hold several statements
      const results = await target.exec(text)
      const last = results[results.length - 1]
      return {
        rows: (last?.rows ?? []) as Row[],
        rowCount: last?.rowCount ?? last?.affectedRows ?? last?.rows.length ?? 0,
      }
    },
  }
}

/** A PGlite driver; `owned` instances (from a directory) are closed by `close()`. */
export function pgliteDriver(instance: PgliteInstance, owned: boolean): Driver {
  return {
    pool: wrapPglite(instance),
    async check() {
      await instance.query('select 1')
    },
    transaction: (fn) => pgliteTransaction(instance, fn),
    // in process, a round trip costs nothing to save: one transaction after another
    async batch(fns, options) {
      for (const [index, fn] of fns.entries()) {
        try {
          await pgliteTransaction(instance, fn)
        } catch (error) {
          return { committed: index, failed: { index, error } }
        }
        options?.onCommit?.(index + 1)
      }
      return { committed: fns.length }
    },
    async close() {
      if (owned) await instance.close()
    },
  }
}

/** Thrown in PGlite's transaction callback to end it with ROLLBACK. */
const ROLLBACK = Symbol('rollback')

/**
 * `fn` in a transaction of PGlite's, begun at its first query. PGlite has one session, and its
 * transaction() holds every other caller back until it ends: one that only queues its ledger
 * write (`queueOwn`) takes the session only to commit, so a runner that waits meanwhile (in
 * tests, a stale holder waiting for another to take its lease over) blocks nobody.
 */
async function pgliteTransaction<T>(instance: PgliteInstance, fn: (connection: Queryable) => Promise<T>): Promise<T> {
  const queued: string[] = []
  let session: Promise<Queryable> | undefined
  let end: (commit: boolean) => void = () => {}
  let ended: Promise<void> = Promise.resolve()
  const begin = () => {
    session ??= new Promise<Queryable>((resolve, reject) => {
      const decided = new Promise<boolean>((decide) => {
        end = decide
      })
      ended = instance.transaction(async (transaction) => {
        resolve(wrapPglite(transaction))
        if (!(await decided)) throw ROLLBACK
      })
      // BEGIN failed: the callback never ran
      ended.catch(reject)
    })
    return session
  }
  const flush = async () => {
    const transaction = await begin()
    while (queued.length > 0) await transaction.query(queued.shift()!)
    return transaction
  }
  const connection: Queryable = {
    query: async (text, params) => (await flush()).query(text, params),
    queueOwn(text) {
      queued.push(text)
    },
  }
  try {
    const result = await fn(connection)
    if (queued.length > 0) await flush()
    end(true)
    await ended
    return result
  } catch (error) {
    end(false)
    await ended.catch(() => {})
    throw error
  }
}
