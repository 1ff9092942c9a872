import { defineMigration } from '@flux/core'
import type { MongoStoreClient } from '@flux/mongo'

export default defineMigration<MongoStoreClient>({
  store: 'docs',
  async up({ store }) {
    await store.db.collection('notes').insertOne({ note: 'written by the image' }, { session: store.session })
  },
  async down({ store }) {
    await store.db.collection('notes').drop()
  },
})
