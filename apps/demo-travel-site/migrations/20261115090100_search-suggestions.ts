import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'
import type { RedisClient } from '@flux/redis'
import { suggestionsOf, visitorKeys } from '../story/visitor-keys.ts'

// Search-as-you-type: every hotel under its name and its destination's, in one sorted set
// read with ZRANGEBYLEX. Built from the catalog's hotel_cards view.
export default defineMigration<RedisClient, { catalog: PgClient }>({
  store: 'visitors',
  uses: ['catalog'],
  async up({ store, stores, log }) {
    const { suggest } = visitorKeys()
    const { rows } = await stores.catalog.query<{ slug: string; name: string; destination_name: string }>(
      'select slug, name, destination_name from hotel_cards order by slug',
    )
    const members = rows.flatMap(suggestionsOf)
    await store.redis.del(suggest)
    for (let start = 0; start < members.length; start += 1_000) {
      await store.redis.zadd(suggest, ...members.slice(start, start + 1_000).flatMap((member) => [0, member]))
    }
    log(`${members.length} suggestions for ${rows.length} hotels`)
  },
  async down({ store }) {
    await store.redis.del(visitorKeys().suggest)
  },
})
