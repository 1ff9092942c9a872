import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'

export default defineMigration<PgClient>({
  store: 'catalog',
  async up({ store }) {
    await store.query('create table image_note (id int primary key, body text not null)')
    await store.query("insert into image_note values (1, 'written by the image')")
  },
  async down({ store }) {
    await store.query('drop table image_note')
  },
})
