// Redis and Redis Cluster: each application of a migration is an item `<name> <pid>` of a list.
import type { RedisClient } from '@flux/redis'
import { redisStore } from '@flux/redis'
import { env, type FaultStore, hostOf, LEDGER_FENCED, literal, opened, through, unique } from './store-kit.ts'

export function redisKit(name: 'redis' | 'redis-cluster'): FaultStore {
  const cluster = name === 'redis-cluster'
  const nodes = () => env.FLUX_TEST_REDIS_CLUSTER!.split(',').filter(Boolean)
  return {
    name,
    imports: "import { redisStore } from '@flux/redis'",
    variable: cluster ? 'FLUX_TEST_REDIS_CLUSTER' : 'FLUX_TEST_REDIS_URL',
    transactional: false,
    contract: LEDGER_FENCED,
    upstream: () => (cluster ? { unavailable: 'nodes announce their own addresses' } : hostOf(env.FLUX_TEST_REDIS_URL)),
    async create(_dir, port) {
      const prefix = unique('faults')
      const key = `{${prefix}}:effects`
      const { client, close } = await opened<RedisClient>(
        cluster
          ? redisStore({ cluster: { nodes: nodes() }, prefix })
          : redisStore({ url: env.FLUX_TEST_REDIS_URL!, prefix }),
      )
      const target = cluster
        ? `cluster: { nodes: ${literal(nodes())} }`
        : `url: ${literal(through(env.FLUX_TEST_REDIS_URL!, port))}`
      return {
        config: `redisStore({ ${target}, prefix: ${literal(prefix)} })`,
        effect: (migration) => `await store.redis.rpush(${literal(key)}, \`${migration} \${process.pid}\`)`,
        async effects() {
          const items = await client.redis.lrange(key, 0, -1)
          return items.map((item) => {
            const [migration, pid] = item.split(' ')
            return { name: migration!, pid: Number(pid) }
          })
        },
        async cleanup() {
          const keys: string[] = []
          for await (const found of client.scan(`{${prefix}}:*`)) keys.push(found)
          for (const found of keys) await client.redis.del(found)
          await close()
        },
      }
    },
  }
}
