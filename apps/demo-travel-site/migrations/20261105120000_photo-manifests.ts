import { defineMigration } from '@flux/core'
import type { FsClient } from '@flux/fs'

// Each hotel folder gets a manifest.json listing its photos, which the site reads instead of listing the folder.
export default defineMigration<FsClient>({
  store: 'photos',
  async up({ store, log }) {
    const hotels = new Set((await store.list('hotels/')).map((key) => key.split('/')[1]!))
    for (const hotel of hotels) {
      const photos = (await store.list(`hotels/${hotel}/`))
        .filter((key) => key.endsWith('.jpg'))
        .map((key) => key.split('/').pop())
      await store.put(`hotels/${hotel}/manifest.json`, `${JSON.stringify({ hotel, photos }, null, 2)}\n`)
    }
    log(`wrote ${hotels.size} manifests`)
  },
  async down({ store }) {
    for (const key of await store.list('hotels/')) if (key.endsWith('/manifest.json')) await store.delete(key)
  },
})
