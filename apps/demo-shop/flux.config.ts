import { defineConfig } from '@flux/core'
import { pgStore } from '@flux/pg'
import { s3Store } from '@flux/s3'

// A shop that reuses the travel site's photo component with its own stores: product photos
// under an S3 prefix of its own, their rows in its own pg schema. The component's migrations
// run here, recorded in these stores' ledgers, and nowhere else.
const env = process.env
const schema = env.SHOP_PG_SCHEMA ?? 'shop'

export default defineConfig({
  stores: {
    shop: pgStore({ url: withSearchPath(env.DATABASE_URL, schema), schema }),
    assets: s3Store({
      bucket: env.S3_BUCKET,
      prefix: env.SHOP_S3_PREFIX ?? 'shop/',
      region: env.AWS_REGION ?? 'us-east-1',
      endpoint: env.S3_ENDPOINT,
      forcePathStyle: true,
    }),
  },
  migrations: './migrations',
  components: { '@travel/images': { stores: { blobs: 'assets', meta: 'shop' } } },
})

/** The shop's tables live in their own schema: every session starts with it on its search_path. */
function withSearchPath(url: string | undefined, schema: string): string | undefined {
  if (!url) return url
  return `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`
}
