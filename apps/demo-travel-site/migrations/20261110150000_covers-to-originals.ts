import { defineMigration } from '@flux/core'
import type { FsClient } from '@flux/fs'

// Photos move under originals/ so that resized copies can sit beside them later.
export default defineMigration<FsClient>({
  store: 'photos',
  async up({ store }) {
    for (const key of await store.list('hotels/')) {
      if (key.endsWith('.jpg') && !key.includes('/originals/')) {
        const [, hotel, file] = key.split('/')
        await store.move(key, `hotels/${hotel}/originals/${file}`)
      }
    }
  },
  async down({ store }) {
    for (const key of await store.list('hotels/')) {
      if (key.includes('/originals/')) await store.move(key, key.replace('/originals/', '/'))
    }
  },
})
