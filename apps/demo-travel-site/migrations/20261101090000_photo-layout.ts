import { defineMigration } from '@flux/core'
import type { FsClient } from '@flux/fs'

// The layout every later migration relies on: one folder per hotel, and a README for humans.
export default defineMigration<FsClient>({
  store: 'photos',
  async up({ store }) {
    await store.put('README.txt', 'hotel photos: hotels/<hotel-id>/<photo>.jpg\n')
    for (const hotel of ['lisbon-alfama', 'kyoto-gion', 'oaxaca-centro']) {
      await store.put(`hotels/${hotel}/cover.jpg`, `placeholder cover for ${hotel}\n`)
    }
  },
  async down({ store }) {
    for (const key of await store.list('hotels/')) await store.delete(key)
    await store.delete('README.txt')
  },
})
