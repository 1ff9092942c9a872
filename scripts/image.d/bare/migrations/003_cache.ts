import { defineMigration } from '@flux/core'
import type { RedisClient } from '@flux/redis'

// the key is under the run's prefix, which the test deletes after it
const { env } = process
const key = `${env.REDIS_PREFIX}:note`

export default defineMigration<RedisClient>({
  store: 'cache',
  async up({ store }) {
    await store.redis.set(key, 'written by the image')
  },
  async down({ store }) {
    await store.redis.del(key)
  },
})
