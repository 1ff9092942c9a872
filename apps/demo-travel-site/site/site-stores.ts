import type { Adapter, BlobStore, Project } from '@flux/core'
import { findConfigFile, loadProject, messageOf } from '@flux/core'
import type { MongoStoreClient } from '@flux/mongo'
import type { PgClient } from '@flux/pg'
import type { RedisClient } from '@flux/redis'

/** The images component, whose `blobs` role says where the photos live. */
export const IMAGES_COMPONENT = '@travel/images'

/** The stores the pages read, by the names the demo's config gives them (see the demo README's data contract). */
export const STORE_NAMES = { catalog: 'catalog', visitors: 'visitors', trips: 'trips' } as const

/** Where the photos are read from: the store bound to the images component's `blobs` role. */
export interface PhotoStore {
  name: string
  kind: string
  client: BlobStore & { root?: string }
}

/**
 * The project as the site runs it: the config loaded with @flux/core, every configured store
 * opened. A store that cannot be opened is left out (its pages say so) instead of stopping the
 * site: the demo also runs where only the embedded engines work.
 */
export interface SiteStores {
  project: Project
  catalog?: PgClient
  visitors?: RedisClient
  trips?: MongoStoreClient
  photos?: PhotoStore
  /** The images component's `meta` role: the pg store holding `image_photos`. */
  photoMeta?: PgClient
  /** Stores that could not be opened, with why. */
  unavailable: Map<string, string>
  /** Stores that were opened: the `/flux` page reads their ledgers. */
  opened: string[]
  /** Prefix of the site's Redis keys (DEMO_REDIS_PREFIX, default `travel`). */
  redisPrefix: string
  close(): Promise<void>
}

export async function openSiteStores(cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<SiteStores> {
  const project = await loadProject({ cwd, configFile: await findConfigFile(cwd) })
  const names = Object.keys(project.adapters).sort()
  const unavailable = new Map<string, string>()
  const results = await Promise.allSettled(names.map((name) => project.adapters[name]!.open()))
  results.forEach((result, index) => {
    if (result.status === 'rejected') unavailable.set(names[index]!, messageOf(result.reason))
  })
  const opened = names.filter((name) => !unavailable.has(name))
  const clientOf = <Client>(name: string | undefined, kind: string): Client | undefined => {
    const adapter: Adapter | undefined = name === undefined ? undefined : project.adapters[name]
    if (!adapter || adapter.kind !== kind || !opened.includes(name!)) return undefined
    return adapter.client() as Client
  }
  const roles = project.components.find((component) => component.name === IMAGES_COMPONENT)?.roles ?? {}
  const blobStore = roles.blobs
  const blobAdapter = blobStore === undefined ? undefined : project.adapters[blobStore]
  const photos =
    blobAdapter && opened.includes(blobStore!)
      ? { name: blobStore!, kind: blobAdapter.kind, client: blobAdapter.client() as PhotoStore['client'] }
      : undefined
  return {
    project,
    catalog: clientOf<PgClient>(STORE_NAMES.catalog, 'pg'),
    visitors: clientOf<RedisClient>(STORE_NAMES.visitors, 'redis'),
    trips: clientOf<MongoStoreClient>(STORE_NAMES.trips, 'mongo'),
    photos,
    photoMeta: clientOf<PgClient>(roles.meta, 'pg'),
    unavailable,
    opened,
    redisPrefix: env.DEMO_REDIS_PREFIX ?? 'travel',
    async close() {
      await Promise.allSettled(names.map((name) => project.adapters[name]!.close()))
    },
  }
}
