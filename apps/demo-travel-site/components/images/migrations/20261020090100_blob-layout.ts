import type { BlobStore } from '@flux/core'
import { defineMigration } from '@flux/core'

// The layout every photo follows in the `blobs` role's store, written down for humans and
// tools: photos/<kind>/<name>/<position>.png, e.g. photos/hotel/kyoto-gion/1.png.
export const LAYOUT_KEY = 'images-layout.json'

export default defineMigration<BlobStore>({
  store: 'blobs',
  async up({ store }) {
    const layout = { version: 1, photos: 'photos/<kind>/<name>/<position>.png', meta: 'image_photos (meta role)' }
    await store.put(LAYOUT_KEY, `${JSON.stringify(layout, null, 2)}\n`)
  },
  async down({ store }) {
    await store.delete(LAYOUT_KEY)
  },
})
