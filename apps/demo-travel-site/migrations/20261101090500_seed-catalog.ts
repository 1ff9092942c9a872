import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'
import { destinationRows, hotelRows, pageViewRows, roomRows } from '../seed/catalog.ts'
import { insertRows } from '../seed/insert.ts'
import { sizesOf } from '../seed/sizes.ts'

// Seed data is a migration like any other: destinations, hotels, rooms and their page views,
// the same on every machine for the same DEMO_SCALE (seeded PRNG).
export default defineMigration<PgClient>({
  store: 'catalog',
  async up({ store, log }) {
    const sizes = sizesOf()
    const hotels = hotelRows(sizes)
    const rooms = roomRows(hotels)
    await insertRows(
      store,
      'destinations',
      { slug: 'text', name: 'text', country: 'text', summary: 'text' },
      destinationRows(sizes),
    )
    const hotelColumns = {
      slug: 'text',
      destination_slug: 'text',
      name: 'text',
      stars: 'int',
      price_cents: 'int',
      description: 'text',
    }
    await insertRows(store, 'hotels', hotelColumns, hotels)
    await insertRows(
      store,
      'rooms',
      { id: 'int', hotel_slug: 'text', kind: 'text', beds: 'int', price_cents: 'int' },
      rooms,
    )
    await insertRows(store, 'page_views', { hotel_slug: 'text', views: 'int' }, pageViewRows(hotels))
    log(`seeded ${sizes.destinations} destinations, ${hotels.length} hotels, ${rooms.length} rooms`)
  },
  async down({ store }) {
    await store.query('truncate page_views, rooms, hotels, destinations')
  },
  destroysData: 'every seeded destination, hotel and room',
})
