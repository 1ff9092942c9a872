import { defineMigration } from '@flux/core'
import type { S3Client } from '@flux/s3'

export default defineMigration<S3Client>({
  store: 'blobs',
  async up({ store }) {
    await store.put('note.txt', 'written by the image\n')
  },
  async down({ store }) {
    await store.delete('note.txt')
  },
})
