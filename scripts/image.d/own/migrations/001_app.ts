import { defineMigration } from '@flux/core'
import type { FsClient } from '@flux/fs'

// The project's own @flux/fs, not the image's, as on the host.
export default defineMigration<FsClient>({
  store: 'files',
  after: ['@image-test/notes/001_notes'],
  async up({ store }) {
    await store.put('app.json', `${JSON.stringify({ adapter: import.meta.resolve('@flux/fs') })}\n`)
  },
  async down({ store }) {
    await store.delete('app.json')
  },
})
