import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'
import { hotelRows, itineraryRows, reviewRows } from '../seed/catalog.ts'
import { insertRows } from '../seed/insert.ts'
import { sizesOf } from '../seed/sizes.ts'

// A year of itineraries and reviews, as the site wrote them into PostgreSQL: over 100,000
// rows at the demo's size (DEMO_SCALE=1).
export default defineMigration<PgClient>({
  store: 'catalog',
  async up({ store, progress, log }) {
    const sizes = sizesOf()
    const { itineraries, stops } = itineraryRows(sizes)
    const reviews = reviewRows(sizes, hotelRows(sizes))
    const bar = progress(itineraries.length + stops.length + reviews.length)
    let done = 0
    const advance = (total: number) => (inserted: number) => bar.set(done + Math.min(inserted, total))
    await insertRows(store, 'itineraries', { id: 'int', destination_slug: 'text', title: 'text' }, itineraries)
    done += itineraries.length
    const stopColumns = { id: 'int', itinerary_id: 'int', day: 'int', position: 'int', title: 'text', note: 'text' }
    await insertRows(store, 'itinerary_stops', stopColumns, stops, advance(stops.length))
    done += stops.length
    const reviewColumns = {
      id: 'int',
      hotel_slug: 'text',
      author: 'text',
      rating: 'int',
      body: 'text',
      created_at: 'timestamptz',
    }
    await insertRows(store, 'reviews', reviewColumns, reviews, advance(reviews.length))
    done += reviews.length
    bar.set(done)
    log(`seeded ${itineraries.length} itineraries, ${stops.length} stops, ${reviews.length} reviews (${done} rows)`)
  },
  async down({ store }) {
    await store.query('truncate reviews, itinerary_stops, itineraries')
  },
  destroysData: 'every seeded itinerary, stop and review',
})
