import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'
import type { S3Client } from '@flux/s3'
import { savePhotos } from '@travel/images'
import { PNG } from 'pngjs'

// One photo per product, saved through the images component: bytes in the shop's bucket
// prefix (its blobs role), rows in its image_photos table (its meta role).
export default defineMigration<PgClient, { assets: S3Client }>({
  store: 'shop',
  uses: ['assets'],
  after: ['@travel/images/20261020090000_photo-table', '@travel/images/20261020090100_blob-layout'],
  async up({ store, stores, log }) {
    const { rows } = await store.query<{ sku: string; name: string }>('select sku, name from products order by sku')
    const photos = rows.map((product, index) => ({
      owner: `product:${product.sku}`,
      position: 1,
      width: 32,
      height: 32,
      caption: product.name,
      png: square(32, [60 + index * 60, 120, 200 - index * 50]),
    }))
    await savePhotos(store, stores.assets, photos)
    log(`saved ${photos.length} product photos`)
  },
  async down({ store, stores }) {
    await stores.assets.deleteMany(await stores.assets.list('photos/product/'))
    await store.query("delete from image_photos where owner like 'product:%'")
  },
})

function square(size: number, [red, green, blue]: number[]): Buffer {
  const png = new PNG({ width: size, height: size })
  for (let offset = 0; offset < png.data.length; offset += 4) png.data.set([red!, green!, blue!, 255], offset)
  return PNG.sync.write(png)
}
