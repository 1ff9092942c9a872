import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { finish, flux, POOL_SOURCE, project, s3StoreSource, start, statusOf, waitFor } from './cli-helpers.ts'
import { contentsOf, deleteAll, describeWithServer, randomPrefix, testStore } from './s3-test-helpers.ts'

const COUNT = 2_000
const BATCH = 50
const ID = 'app/001_copy_local_photos'

/**
 * Copies every file of the fs store `local` to the s3 store `media` (its home), in batches,
 * saving a checkpoint after each: run again after a crash, it resumes from the last one.
 * Each object it puts is logged to copied.log, outside both stores.
 */
const COPY = `import { appendFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
import { pool } from '../lib/pool.ts'
export default defineMigration({
  store: 'media',
  uses: ['local'],
  async up({ store, stores, checkpoint, progress }) {
    const keys = await stores.local.list('')
    const start = (checkpoint.value as { done: number } | undefined)?.done ?? 0
    const bar = progress(keys.length)
    bar.set(start)
    for (let done = start; done < keys.length; done += ${BATCH}) {
      await pool(keys.slice(done, done + ${BATCH}), 16, async (key) => {
        await store.put(key, await stores.local.get(key))
        appendFileSync('copied.log', key + '\\n')
      })
      await checkpoint.save({ done: Math.min(done + ${BATCH}, keys.length) })
      bar.set(Math.min(done + ${BATCH}, keys.length))
    }
  },
})
`

const keyOf = (n: number) => `trips/${String(n % 40).padStart(2, '0')}/photo-${String(n).padStart(4, '0')}.jpg`
const bytesOf = (n: number) => Buffer.from(`${keyOf(n)}\n`.repeat(1 + (n % 97)))

describeWithServer('copying 2,000 files from an fs store to an s3 store', () => {
  const prefix = randomPrefix('copy')
  afterAll(() => deleteAll(prefix))

  it('killed half-way, resumes from its checkpoint and ends with every object once, byte for byte', async () => {
    const dir = await project(
      { media: s3StoreSource(prefix), local: "fsStore({ root: './var/local' })" },
      { 'lib/pool.ts': POOL_SOURCE, 'migrations/001_copy_local_photos.ts': COPY },
    )
    for (let n = 0; n < COUNT; n++) {
      await mkdir(join(dir, 'var', 'local', 'trips', String(n % 40).padStart(2, '0')), { recursive: true })
      await writeFile(join(dir, 'var', 'local', keyOf(n)), bytesOf(n))
    }

    const ledger = testStore(prefix).ledger
    const checkpointOf = async () =>
      ((await ledger.read()).find((entry) => entry.id === ID)?.checkpoint as { done: number } | undefined)?.done ?? 0
    const first = start(['up'], dir)
    const firstRun = finish(first)
    await waitFor(async () => (await checkpointOf()) >= COUNT / 2, 'the copy to pass half-way', 60_000)
    first.kill('SIGKILL')
    expect((await firstRun).signal).toBe('SIGKILL')

    const doneAtKill = await checkpointOf()
    const objectsAtKill = (await contentsOf(prefix)).filter((key) => !key.startsWith('.flux/')).length
    expect(objectsAtKill).toBeGreaterThanOrEqual(doneAtKill)
    expect(objectsAtKill).toBeLessThan(COUNT)
    expect(await statusOf(dir)).toEqual([[ID, 'dirty']])

    // the dead runner's leases are taken over at once (its pid is gone), and the step resumes
    const second = await flux(['up'], dir)
    expect(second.code, second.stderr).toBe(0)
    expect(await statusOf(dir)).toEqual([[ID, 'applied']])

    const copied = (await readFile(join(dir, 'copied.log'), 'utf8')).split('\n').filter(Boolean)
    const expected = Array.from({ length: COUNT }, (_, n) => keyOf(n)).sort()
    // nothing lost: every file was put at least once…
    expect([...new Set(copied)].sort()).toEqual(expected)
    // …and the second run started from the checkpoint: it put exactly the files after it
    const putAgain = copied.length - COUNT
    expect(putAgain).toBeGreaterThanOrEqual(0)
    expect(putAgain).toBeLessThanOrEqual(objectsAtKill - doneAtKill + BATCH)

    const blobs = testStore(prefix).client()
    expect(await blobs.list('')).toEqual(expected)
    for (let n = 0; n < COUNT; n += 100) {
      const bodies = await Promise.all(Array.from({ length: 100 }, (_, offset) => blobs.get(keyOf(n + offset))))
      bodies.forEach((body, offset) => {
        expect(body.equals(bytesOf(n + offset)), keyOf(n + offset)).toBe(true)
      })
    }
    expect((await ledger.read()).map((entry) => [entry.id, entry.status, entry.checkpoint])).toEqual([
      [ID, 'applied', undefined],
    ])
  }, 150_000)
})
