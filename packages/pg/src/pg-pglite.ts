import { mkdir, readFile, unlink, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { FluxError, isHolderGone, type LeaseHolder } from '@flux/core'
import { type Driver, pgliteDriver } from './pg-client.ts'
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
  for (let tries = 0; ; tries++) {
    try {
      await writeFile(file, JSON.stringify(owner), { flag: 'wx' })
      return () => unlink(file).catch(() => {})
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    const holder = await readFile(file, 'utf8').then(
      (text) => JSON.parse(text) as LeaseHolder,
      () => undefined,
    )
    if (tries === 0 && holder && isHolderGone(holder)) {
      await unlink(file).catch(() => {})
      continue
    }
    const who = holder ? `process ${holder.pid} on ${holder.host} since ${holder.since}` : 'another process'
    throw new FluxError('STORE_UNAVAILABLE', `cannot open ${description}: it is open in ${who}`, {
      hint: `PGlite lets one process at a time open a data directory: wait for that one to end; if it is gone, delete ${file}`,
      details: { code: 'IN_USE' },
    })
  }
}
