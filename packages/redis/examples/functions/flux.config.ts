import { defineConfig } from '@flux/core'
import { redisStore } from '@flux/redis'

// REDIS_CLUSTER="host:port,host:port" for a cluster, else REDIS_URL (a standalone server)
const cluster = process.env.REDIS_CLUSTER?.split(',')
const prefix = process.env.REDIS_PREFIX

export default defineConfig({
  stores: {
    cache: cluster
      ? redisStore({ cluster: { nodes: cluster }, prefix })
      : redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix }),
  },
  migrations: './migrations',
})
