import { describe, expect, it } from 'vitest'
import { mongoStore } from '../src/index.ts'
import { flux, project, statusOf } from './cli-helpers.ts'
import { freshDatabase, REPLSET_URL } from './mongo-test-helpers.ts'

const migration = (step: number, fail: boolean) => `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'reviews',
  async up({ store }) {
    if (!store.session) throw new Error('expected to run in a transaction')
    await store.db.collection('effects').insertOne({ step: ${step} }, { session: store.session })
    ${fail ? "throw new Error('failed after its write')" : ''}
  },
})
`

describe.skipIf(!REPLSET_URL)(
  'needs a replica set (set FLUX_TEST_MONGO_REPLSET_URL); FerretDB, the CI server, has no transactions',
  () => {
    it('transactions are detected from hello at open()', async () => {
      const { name, drop } = await freshDatabase(REPLSET_URL!)
      const adapter = mongoStore({ url: REPLSET_URL!, database: name })
      try {
        expect(adapter.capabilities?.transactions).toBe(false)
        await adapter.open()
        expect(adapter.capabilities?.transactions).toBe(true)
      } finally {
        await adapter.close()
        await drop()
      }
    })

    it('a migration and its ledger record commit together; a failing one leaves neither', async () => {
      const { name, db, drop } = await freshDatabase(REPLSET_URL!)
      try {
        const dir = await project(
          `mongoStore({ url: ${JSON.stringify(REPLSET_URL)}, database: ${JSON.stringify(name)} })`,
          { '001_kept.ts': migration(1, false), '002_rolled-back.ts': migration(2, true) },
        )
        const result = await flux(['up'], dir)
        expect(result.code, result.stderr).toBe(1)
        expect(result.stderr).toContain('nothing of it was committed')
        // not dirty: the failed step's ledger record was rolled back with its write
        expect(await statusOf(dir)).toEqual([
          ['app/001_kept', 'applied'],
          ['app/002_rolled-back', 'pending'],
        ])
        expect((await db.collection('effects').find().toArray()).map((effect) => effect.step)).toEqual([1])
      } finally {
        await drop()
      }
    })
  },
)
