import { copy, defineMigration, verifyCopy } from '@flux/core'
import { type MongoStoreClient, mongoDocuments } from '@flux/mongo'
import type { PgClient } from '@flux/pg'
import {
  copyBatchSize,
  counted,
  dropCollection,
  type ItineraryDocument,
  itineraryDocuments,
  paced,
} from '../story/moves.ts'

// Team B: an itinerary and its stops become one document, its days nested, so a page is one
// read. Written on a branch beside team A's move-reviews; flux merge joined them.
export default defineMigration<MongoStoreClient, { catalog: PgClient }>({
  store: 'trips',
  parents: ['20261201090100_seed-trips'],
  uses: ['catalog'],
  transaction: false,
  async up(ctx) {
    await ctx.store.ensureIndexes('itineraries', [{ key: { destination: 1 } }])
    const from = counted(itineraryDocuments(ctx.stores.catalog))
    const to = mongoDocuments<ItineraryDocument>(ctx.store, 'itineraries')
    const result = await copy({ from, to: paced(to), batchSize: copyBatchSize(), context: ctx })
    const resumed = result.resumedAfter === undefined ? 'from the start' : `resumed after id ${result.resumedAfter}`
    ctx.log(
      `copied ${result.written} itineraries ${resumed}: read ${from.read_.rows} from pg, the first id ${from.read_.firstKey}`,
    )
    const report = await verifyCopy({ from, to, checksum: true })
    ctx.log(`verified: ${report.to.count} itineraries in mongo, the same ids as pg`)
  },
  async down({ store }) {
    await dropCollection(store, 'itineraries')
  },
  destroysData: "mongo's itineraries (pg still has them until drop-pg-trips)",
})
