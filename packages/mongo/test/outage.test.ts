import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exists, finish, flux, project, start, statusOf, waitFor } from './cli-helpers.ts'
import { PASSWORD } from './mongo-test-helpers.ts'
import { ferretdbBinary, ownFerretdb } from './own-ferretdb.ts'

const binary = ferretdbBinary()
const MISSING =
  'no FerretDB binary in ~/.cache/flux/bin: run `scripts/services start` (it builds one), then run the tests again'

const inserting = (step: number, before = '') => `import { existsSync, writeFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'reviews',
  async up({ store }) {
    ${before}
    await store.db.collection('effects').insertOne({ step: ${step} })
  },
})
`
// signals that it runs, then waits for the test to stop the server before it writes
const waiting = `writeFileSync('started', '')
    while (!existsSync('go')) await sleep(20)`

const ids = ['app/001_first', 'app/002_slow', 'app/003_third']

describe.skipIf(!binary && !process.env.CI)(binary ? 'the server stops in the middle of a run' : MISSING, () => {
  it('up exits 1 naming the store; after a restart status is exact, and up completes after resolve', async () => {
    if (!binary) throw new Error(MISSING)
    const server = await ownFerretdb(binary)
    try {
      const port = new URL(server.url).port
      // FerretDB's sqlite handler accepts any PLAIN credentials: enough to check the password never shows
      const url = `mongodb://flux:${PASSWORD}@127.0.0.1:${port}/?authMechanism=PLAIN`
      const target = `mongo 127.0.0.1:${port}/outage`
      const dir = await project(`mongoStore({ url: '${url}', database: 'outage', connectTimeoutMs: 1_500 })`, {
        '001_first.ts': inserting(1),
        '002_slow.ts': inserting(2, waiting),
        '003_third.ts': inserting(3),
      })
      const run = start(['up'], dir)
      const outcome = finish(run)
      await waitFor(() => exists(join(dir, 'started')), 'the second migration to start')
      await server.stop()
      await writeFile(join(dir, 'go'), '')
      const failed = await outcome
      expect(failed.code, failed.stderr).toBe(1)
      expect(failed.stdout).toContain('applied  app/001_first')
      expect(failed.stderr).toContain('app/002_slow')
      expect(failed.stderr).toContain(target)
      expect(failed.stderr).toContain('store "reviews"')
      expect(failed.stdout + failed.stderr).not.toContain(PASSWORD)

      // still down: up fails at once, naming the store and the target
      const unreachable = await flux(['up'], dir)
      expect(unreachable.code).toBe(1)
      expect(unreachable.stderr).toContain(`store "reviews"`)
      expect(unreachable.stderr).toContain(`cannot reach ${target}`)
      expect(unreachable.stdout + unreachable.stderr).not.toContain(PASSWORD)

      await server.start()
      expect(await statusOf(dir)).toEqual([
        [ids[0], 'applied'],
        [ids[1], 'dirty'],
        [ids[2], 'pending'],
      ])
      const refused = await flux(['up'], dir)
      expect(refused.code, refused.stderr).toBe(3)
      expect(refused.stderr).toContain('app/002_slow')
      // the migration's insert never reached the server: it did not happen
      const resolved = await flux(['resolve', 'app/002_slow', '--rolled-back'], dir)
      expect(resolved.code, resolved.stderr).toBe(0)
      const completed = await flux(['up'], dir)
      expect(completed.code, completed.stderr).toBe(0)
      expect(await statusOf(dir)).toEqual(ids.map((id) => [id, 'applied']))
      const { MongoClient } = await import('mongodb')
      const client = await new MongoClient(server.url).connect()
      try {
        const effects = await client
          .db('outage')
          .collection('effects')
          .find({}, { sort: { step: 1 } })
          .toArray()
        expect(effects.map((effect) => effect.step)).toEqual([1, 2, 3])
      } finally {
        await client.close()
      }
    } finally {
      await server.remove()
    }
  }, 120_000)
})
