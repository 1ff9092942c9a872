import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'
import { DROP_TRIPS_TABLES_SQL, TRIPS_TABLES_SQL } from '../seed/trips-tables.ts'

// Itineraries (with their stops) and hotel reviews, first kept in PostgreSQL.
export default defineMigration<PgClient>({
  store: 'catalog',
  async up({ store }) {
    await store.query(TRIPS_TABLES_SQL)
  },
  async down({ store }) {
    await store.query(DROP_TRIPS_TABLES_SQL)
  },
  destroysData: 'the itineraries, itinerary_stops and reviews tables',
})
