import { defineMigration } from '@flux/core'
import type { FsClient } from '@flux/fs'
import type { PgClient } from '@flux/pg'
import { savePhotos } from '@travel/images'
import { destinationRows, hotelRows } from '../seed/catalog.ts'
import { PHOTO_HEIGHT, PHOTO_WIDTH, photoPng } from '../seed/png.ts'
import { sizesOf } from '../seed/sizes.ts'

// Photos for every hotel and destination, through the images component: real PNGs in the
// photos directory, their rows in image_photos. Recorded in the catalog, with its rows.
export default defineMigration<PgClient, { photos: FsClient }>({
  store: 'catalog',
  uses: ['photos'],
  after: ['@travel/images/20261020090000_photo-table', '@travel/images/20261020090100_blob-layout'],
  async up({ store, stores, progress, log }) {
    const sizes = sizesOf()
    const owners = [
      ...destinationRows(sizes).map((place) => ({
        owner: `destination:${place.slug}`,
        count: sizes.photosPerDestination,
        title: place.name,
      })),
      ...hotelRows(sizes).map((hotel) => ({
        owner: `hotel:${hotel.slug}`,
        count: sizes.photosPerHotel,
        title: hotel.name,
      })),
    ]
    const total = owners.reduce((sum, owner) => sum + owner.count, 0)
    const bar = progress(total)
    let batch: Parameters<typeof savePhotos>[2] = []
    let done = 0
    for (const { owner, count, title } of owners) {
      for (let position = 1; position <= count; position++) {
        const png = photoPng(`${owner}/${position}`)
        batch.push({
          owner,
          position,
          width: PHOTO_WIDTH,
          height: PHOTO_HEIGHT,
          caption: `${title}, photo ${position}`,
          png,
        })
      }
      if (batch.length >= 200) {
        await savePhotos(store, stores.photos, batch)
        done += batch.length
        bar.set(done)
        batch = []
      }
    }
    await savePhotos(store, stores.photos, batch)
    bar.set(total)
    log(`saved ${total} photos`)
  },
  async down({ store, stores }) {
    for (const key of await stores.photos.list('photos/')) await stores.photos.delete(key)
    await store.query('delete from image_photos')
  },
  destroysData: 'every seeded photo and its row',
})
