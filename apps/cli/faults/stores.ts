// The stores the fault suite runs against, each on its real server, in the order of the table.
import type { FaultStore } from './store-kit.ts'
import { fs, s3 } from './stores-blob.ts'
import { mongo } from './stores-mongo.ts'
import { pg, pglite } from './stores-pg.ts'
import { redisKit } from './stores-redis.ts'

export const FAULT_STORES: readonly FaultStore[] = [
  fs,
  pglite,
  pg,
  redisKit('redis'),
  redisKit('redis-cluster'),
  mongo,
  s3,
]
