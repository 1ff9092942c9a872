// The project of `scripts/image test` with no node_modules of its own: the image's adapters are
// found. Every address comes from the environment, as in a pipeline.
import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
import { mongoStore } from '@flux/mongo'
import { pgStore } from '@flux/pg'
import { redisStore } from '@flux/redis'
import { s3Store } from '@flux/s3'

const env = process.env

export default defineConfig({
  stores: {
    files: fsStore({ root: './var/files' }),
    catalog: pgStore({ url: env.DATABASE_URL, schema: env.PG_SCHEMA, searchPath: env.PG_SCHEMA }),
    cache: redisStore({ url: env.REDIS_URL, prefix: env.REDIS_PREFIX }),
    docs: mongoStore({ url: env.MONGO_URL, database: env.MONGO_DATABASE as string }),
    blobs: s3Store({
      bucket: env.S3_BUCKET as string,
      prefix: env.S3_PREFIX,
      endpoint: env.S3_ENDPOINT,
      forcePathStyle: true,
    }),
  },
  migrations: './migrations',
})
