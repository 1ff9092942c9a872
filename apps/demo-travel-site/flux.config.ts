import { defineConfig, type FluxConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
import { mongoStore } from '@flux/mongo'
import { pgStore } from '@flux/pg'
import { redisStore } from '@flux/redis'
import { s3Store } from '@flux/s3'

/**
 * The one place that says where the travel site's data lives. Addresses come from the
 * conventional variables (DATABASE_URL, REDIS_URL, MONGODB_URL, S3_BUCKET, S3_ENDPOINT,
 * AWS_*); the DEMO_* ones keep tests and demos apart, and DEMO_RELEASE (1–4, default 4) says
 * which release's bindings to use. Tests call it with their own variables.
 */
export function travelConfig(env: NodeJS.ProcessEnv): FluxConfig {
  const release = Number(env.DEMO_RELEASE ?? 4)
  const schema = env.DEMO_PG_SCHEMA ?? 'travel'
  const photos = fsStore({ root: env.DEMO_PHOTOS_DIR ?? './var/photos' })
  if (env.DEMO_PGLITE) {
    // Where no servers can run (scripts/demo without root): PostgreSQL embedded (PGlite) and
    // the photos directory. The server stores are retired, so their migrations count as
    // satisfied: the site runs on release 1's data, with pg keeping itineraries and reviews.
    return {
      stores: { catalog: pgStore({ pglite: env.DEMO_PGLITE }), photos },
      retired: ['visitors', 'trips', 'media'],
      migrations: './migrations',
      components: { '@travel/images': { stores: { blobs: 'photos', meta: 'catalog' } } },
    }
  }
  // Release 4 ships in two deploys: the first binds the images component's blobs to `media`
  // and copies the photos there, with `photos` still configured (DEMO_KEEP_PHOTOS=1); the
  // second retires `photos`: its migrations, and those that use it, count as satisfied.
  const photosRetired = release >= 4 && env.DEMO_KEEP_PHOTOS !== '1'
  return {
    stores: {
      catalog: pgStore({ url: withSearchPath(env.DATABASE_URL, schema), schema }),
      ...(photosRetired ? {} : { photos }),
      visitors: redisStore({ url: env.REDIS_URL, prefix: env.DEMO_REDIS_PREFIX ?? 'travel' }),
      trips: mongoStore({ url: env.MONGODB_URL, database: env.DEMO_MONGO_DB ?? 'travel' }),
      media: s3Store({
        bucket: env.S3_BUCKET,
        prefix: env.DEMO_S3_PREFIX ?? 'travel/',
        region: env.AWS_REGION ?? 'us-east-1',
        endpoint: env.S3_ENDPOINT,
        forcePathStyle: true,
      }),
    },
    retired: photosRetired ? ['photos'] : [],
    migrations: './migrations',
    components: { '@travel/images': { stores: { blobs: release >= 4 ? 'media' : 'photos', meta: 'catalog' } } },
  }
}

export default defineConfig(travelConfig(process.env))

/** The catalog's tables live in their own schema: every session starts with it on its search_path. */
function withSearchPath(url: string | undefined, schema: string): string | undefined {
  if (!url) return url
  const separator = url.includes('?') ? '&' : '?'
  return `${url}${separator}options=${encodeURIComponent(`-c search_path=${schema}`)}`
}
