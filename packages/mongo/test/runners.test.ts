import { expect, it } from 'vitest'
import { finish, project, start, statusOf } from './cli-helpers.ts'
import { describeWithServer, freshDatabase } from './mongo-test-helpers.ts'

const MIGRATIONS = 12

/** A migration that records its side effect in `effects`, a collection without a unique index. */
function counting(index: number): string {
  return `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'reviews',
  async up({ store, migration }) {
    await new Promise((resolve) => setTimeout(resolve, 30))
    await store.db.collection('effects').insertOne({ migration: migration.id, index: ${index}, pid: process.pid })
  },
})
`
}

describeWithServer('two runners against one database', (url) => {
  it('never apply a migration twice: one applies everything, the other waits and finds nothing to do', async () => {
    const { name, db, drop } = await freshDatabase(url)
    try {
      const migrations = Object.fromEntries(
        Array.from({ length: MIGRATIONS }, (_, index) => [
          `${String(index).padStart(3, '0')}_step.ts`,
          counting(index),
        ]),
      )
      const dir = await project(
        `mongoStore({ url: ${JSON.stringify(url)}, database: ${JSON.stringify(name)} })`,
        migrations,
      )
      const [first, second] = await Promise.all([finish(start(['up'], dir)), finish(start(['up'], dir))])
      expect(first.code, first.stderr).toBe(0)
      expect(second.code, second.stderr).toBe(0)

      const effects = await db
        .collection('effects')
        .find({}, { sort: { index: 1 } })
        .toArray()
      expect(effects.map((effect) => effect.index)).toEqual(Array.from({ length: MIGRATIONS }, (_, index) => index))
      const applied = `${first.stdout}${second.stdout}`.match(/applied {2}app\//g) ?? []
      expect(applied).toHaveLength(MIGRATIONS)
      expect(await statusOf(dir)).toEqual(
        Object.keys(migrations).map((file) => [`app/${file.replace('.ts', '')}`, 'applied']),
      )
      // the lease is free once both have finished: its document stays, without a holder, for its epoch
      expect(
        await db
          .collection('flux_lock')
          .find({}, { projection: { _id: 0, epoch: 1, token: 1 } })
          .toArray(),
      ).toEqual([{ epoch: expect.any(Number) }])
    } finally {
      await drop()
    }
  })
})
