import { copy, defineMigration, verifyCopy } from '@flux/core'
import { type MongoStoreClient, mongoDocuments } from '@flux/mongo'
import { type PgClient, pgRows } from '@flux/pg'
import { DROP_TRIPS_TABLES_SQL, TRIPS_TABLES_SQL } from '../seed/trips-tables.ts'
import { itineraryDocuments, itineraryTables, type ReviewDocument, toReviewRow } from '../story/moves.ts'

// MongoDB serves itineraries and reviews now: the PostgreSQL tables go, once more checked
// against the copies. down() puts the tables back and fills them from MongoDB.
export default defineMigration<PgClient, { trips: MongoStoreClient }>({
  store: 'catalog',
  parents: ['20261207100349_merge-heads'],
  uses: ['trips'],
  async up({ store, stores, log }) {
    await verifyCopy({
      from: pgRows(store, { table: 'reviews' }),
      to: mongoDocuments(stores.trips, 'reviews'),
      checksum: true,
    })
    await verifyCopy({
      from: itineraryDocuments(store),
      to: mongoDocuments(stores.trips, 'itineraries'),
      checksum: true,
    })
    await store.query(DROP_TRIPS_TABLES_SQL)
    log('dropped itineraries, itinerary_stops and reviews from pg: mongo has them all')
  },
  async down({ store, stores }) {
    await store.query(TRIPS_TABLES_SQL)
    await copy({
      from: mongoDocuments<ReviewDocument>(stores.trips, 'reviews'),
      to: pgRows(store, { table: 'reviews' }),
      transform: toReviewRow,
    })
    await copy({ from: mongoDocuments(stores.trips, 'itineraries'), to: itineraryTables(store) })
  },
})
