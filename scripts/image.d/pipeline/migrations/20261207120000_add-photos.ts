import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'

export default defineMigration<PgClient>({
  store: 'db',
  async up({ store }) {
    await store.query('create table photo (id int primary key, caption text not null)')
  },
  async down({ store }) {
    await store.query('drop table photo')
  },
})
