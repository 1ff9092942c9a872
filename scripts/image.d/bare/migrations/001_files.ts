import { defineMigration } from '@flux/core'
import type { FsClient } from '@flux/fs'

// Where this project's imports resolve to inside the image: an adapter, and a driver that only
// the image's /node_modules provides.
export default defineMigration<FsClient>({
  store: 'files',
  async up({ store }) {
    const resolved = { adapter: import.meta.resolve('@flux/pg'), driver: import.meta.resolve('ioredis') }
    await store.put('resolved.json', `${JSON.stringify(resolved)}\n`)
  },
  async down({ store }) {
    await store.delete('resolved.json')
  },
})
