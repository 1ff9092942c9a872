import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'
import type { RedisClient } from '@flux/redis'
import { visitorKeys } from '../story/visitor-keys.ts'

// View counters move to Redis (INCR on every visit): backfilled from the catalog's page_views.
export default defineMigration<RedisClient, { catalog: PgClient }>({
  store: 'visitors',
  uses: ['catalog'],
  async up({ store, stores, log }) {
    const keys = visitorKeys()
    const { rows } = await stores.catalog.query<{ hotel_slug: string; views: number }>(
      'select hotel_slug, views from page_views order by hotel_slug',
    )
    for (let start = 0; start < rows.length; start += 1_000) {
      const pipeline = store.redis.pipeline()
      for (const row of rows.slice(start, start + 1_000)) pipeline.set(keys.views(row.hotel_slug), String(row.views))
      await pipeline.exec()
    }
    log(`backfilled ${rows.length} view counters`)
  },
  async down({ store }) {
    for await (const key of store.scan(visitorKeys().views('*'))) await store.redis.del(key)
  },
})
