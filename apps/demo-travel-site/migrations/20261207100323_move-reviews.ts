import { copy, defineMigration, verifyCopy } from '@flux/core'
import { type MongoStoreClient, mongoDocuments } from '@flux/mongo'
import { type PgClient, pgRows } from '@flux/pg'
import {
  copyBatchSize,
  counted,
  dropCollection,
  paced,
  type ReviewDocument,
  type ReviewRow,
  toReviewDocument,
} from '../story/moves.ts'

// Team A: reviews move to MongoDB, one document per review, newest first per hotel by index.
// A copy with the data toolkit: batched, progress, a checkpoint per batch, resumed after a
// crash without reading again the rows before it, then verified key by key.
export default defineMigration<MongoStoreClient, { catalog: PgClient }>({
  store: 'trips',
  parents: ['20261201090100_seed-trips'],
  uses: ['catalog'],
  // one transaction would have to hold the whole copy: the checkpoint makes it resumable instead
  transaction: false,
  async up(ctx) {
    await ctx.store.ensureIndexes('reviews', [{ key: { hotel: 1, createdAt: -1 } }])
    const from = counted(pgRows<ReviewRow>(ctx.stores.catalog, { table: 'reviews' }))
    const to = mongoDocuments<ReviewDocument>(ctx.store, 'reviews')
    const result = await copy({
      from,
      to: paced(to),
      transform: toReviewDocument,
      batchSize: copyBatchSize(),
      context: ctx,
    })
    const resumed = result.resumedAfter === undefined ? 'from the start' : `resumed after id ${result.resumedAfter}`
    ctx.log(
      `copied ${result.written} reviews ${resumed}: read ${from.read_.rows} rows from pg, the first id ${from.read_.firstKey}`,
    )
    const report = await verifyCopy({ from, to, checksum: true })
    ctx.log(`verified: ${report.to.count} reviews in mongo, the same ids as pg`)
  },
  async down({ store }) {
    await dropCollection(store, 'reviews')
  },
  destroysData: "mongo's reviews (pg still has them until drop-pg-trips)",
})
