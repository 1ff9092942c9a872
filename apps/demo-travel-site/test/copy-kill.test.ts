import { spawn } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sizesOf } from '../seed/sizes.ts'
import { applyRelease, DEMO_DIR, demoEnv, FLUX_BIN, runFlux } from '../story/releases.ts'
import { dropStores, openStores, type TravelStores, whenServers } from '../story/testing.ts'

// Release 3's pg → mongo copy of reviews, killed with SIGKILL mid-run: the rerun resumes
// after the checkpoint the ledger holds, reads none of the rows before it again, and ends
// with exactly the source's rows.
const SCALE = 0.02
const env = demoEnv({ isolation: `kill_${process.pid}`, scale: SCALE })
const reviews = sizesOf(SCALE).reviews
const MOVE_REVIEWS = 'app/20261207100323_move-reviews'
let stores: TravelStores

beforeAll(async () => {
  if (!whenServers()) return
  await dropStores(env)
  stores = await openStores(env)
  for (const n of [1, 2]) expect(await applyRelease(n, { env, output: () => {} })).toBe(0)
  expect(await runFlux(['up', 'seed-trips'], { env: { ...env, DEMO_RELEASE: '3' }, output: () => {} })).toBe(0)
})
afterAll(async () => {
  await stores?.close()
  if (whenServers()) await dropStores(env)
})

/** The move's ledger entry in the trips store (mongo), as flux wrote it: its latest event. */
async function ledgerEntry() {
  return stores.trips.db
    .collection<{ _id: string; id: string; seq: number; status: string; checkpoint?: unknown }>('flux_ledger')
    .findOne({ id: MOVE_REVIEWS }, { sort: { seq: -1 } })
}

function checkpointOf(entry: { checkpoint?: unknown } | null): { after: number; read: number } | undefined {
  const value = typeof entry?.checkpoint === 'string' ? JSON.parse(entry.checkpoint) : entry?.checkpoint
  return value as { after: number; read: number } | undefined
}

describe.skipIf(!whenServers())('the pg → mongo copy of reviews, killed mid-run', () => {
  it('resumes after its checkpoint, without reading earlier rows again, and ends with exactly the source rows', async () => {
    const child = spawn(process.execPath, [FLUX_BIN, 'up', 'move-reviews'], {
      cwd: DEMO_DIR,
      // 100 rows a batch, 200 ms before each write: a dozen batches, time to kill it between two
      env: { ...process.env, ...env, DEMO_RELEASE: '3', DEMO_COPY_BATCH: '100', DEMO_COPY_DELAY_MS: '200' },
      stdio: 'ignore',
    })
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)))
    const deadline = Date.now() + 30_000
    while ((checkpointOf(await ledgerEntry())?.read ?? 0) < 300) {
      expect(Date.now(), 'no checkpoint of 300 rows within 30 s').toBeLessThan(deadline)
      await sleep(50)
    }
    child.kill('SIGKILL')
    expect(await exited).toBe('SIGKILL')

    const entry = await ledgerEntry()
    const checkpoint = checkpointOf(entry)!
    expect(entry?.status).toBe('running')
    expect(checkpoint.read).toBeLessThan(reviews)
    // ids are 1…n, so the checkpoint's key is also the number of rows written before it
    expect(checkpoint.after).toBe(checkpoint.read)
    const copiedBefore = await stores.trips.db.collection('reviews').countDocuments()
    expect(copiedBefore).toBeGreaterThanOrEqual(checkpoint.read)
    expect(copiedBefore).toBeLessThan(reviews)

    let output = ''
    const code = await runFlux(['up', 'move-reviews'], {
      env: { ...env, DEMO_RELEASE: '3', DEMO_COPY_BATCH: '100' },
      output: (text) => (output += text),
    })
    expect(code, output).toBe(0)
    const rest = reviews - checkpoint.after
    expect(output).toContain(
      `copied ${rest} reviews resumed after id ${checkpoint.after}: read ${rest} rows from pg, the first id ${checkpoint.after + 1}`,
    )
    expect(output).toContain(`verified: ${reviews} reviews in mongo, the same ids as pg`)
    const collection = stores.trips.db.collection<{ _id: number }>('reviews')
    expect(await collection.countDocuments()).toBe(reviews)
    const ids = (
      await collection
        .find({}, { projection: { _id: 1 } })
        .sort({ _id: 1 })
        .toArray()
    ).map((doc) => doc._id)
    expect(ids).toEqual(Array.from({ length: reviews }, (_, index) => index + 1))
    expect((await ledgerEntry())?.status).toBe('applied')
  })
})
