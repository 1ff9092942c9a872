import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destinationRows, hotelRows, pageViewRows } from '../seed/catalog.ts'
import { PHOTO_WIDTH } from '../seed/png.ts'
import { sizesOf } from '../seed/sizes.ts'
import { applyRelease, DEMO_DIR, demoEnv, FLUX_BIN } from '../story/releases.ts'
import { dropStores, openStores, type TravelStores } from '../story/testing.ts'
import { visitorKeys } from '../story/visitor-keys.ts'

// The whole story from empty stores, release by release, on the real servers: after each
// release, what each store holds and what each ledger says (`flux status --json`).
const SCALE = 0.05
const env = demoEnv({ isolation: `story_${process.pid}`, scale: SCALE })
const sizes = sizesOf(SCALE)
const hotels = hotelRows(sizes)
let stores: TravelStores

beforeAll(async () => {
  await dropStores(env)
  stores = await openStores(env)
})
afterAll(async () => {
  await stores?.close()
  await dropStores(env)
})

async function release(n: number) {
  let output = ''
  const code = await applyRelease(n, { env, output: (text) => (output += text) })
  expect(code, output).toBe(0)
  return output
}

/** `flux status --json` with DEMO_RELEASE=n: each migration's status, by id, and the stores. */
function status(n: number) {
  const result = spawnSync(process.execPath, [FLUX_BIN, 'status', '--json'], {
    cwd: DEMO_DIR,
    env: { ...process.env, ...env, DEMO_RELEASE: String(n) },
    encoding: 'utf8',
  })
  expect(result.status, result.stderr).toBe(0)
  const report = JSON.parse(result.stdout) as {
    migrations: { id: string; store: string; status: string }[]
    stores: { name: string; kind: string }[]
  }
  const byStatus: Record<string, string[]> = {}
  for (const row of report.migrations) {
    const group = `${row.store} ${row.status}`
    byStatus[group] = [...(byStatus[group] ?? []), row.id.replace(/\/\d+_/, '/')]
  }
  return { byStatus, stores: report.stores.map((store) => `${store.name} ${store.kind}`) }
}

async function count(table: string) {
  const { rows } = await stores.catalog.query<{ count: string }>(`select count(*) as count from ${table}`)
  return Number(rows[0]!.count)
}

describe('the travel site, release by release', () => {
  it('release 1: the catalog in PostgreSQL, the images component, PNGs on disk', async () => {
    const output = await release(1)
    expect(output).toContain(`seeded ${sizes.destinations} destinations, ${sizes.hotels} hotels`)
    expect(await count('destinations')).toBe(sizes.destinations)
    expect(await count('hotels')).toBe(sizes.hotels)
    const photos = sizes.destinations * sizes.photosPerDestination + sizes.hotels * sizes.photosPerHotel
    expect(await count('image_photos')).toBe(photos)
    const { rows: cards } = await stores.catalog.query(
      "select slug, destination_name, country from hotel_cards where slug = 'kyoto-gion'",
    )
    expect(cards).toEqual([{ slug: 'kyoto-gion', destination_name: 'Kyoto', country: 'Japan' }])
    const keys = await stores.photos.list('photos/')
    expect(keys).toHaveLength(photos)
    expect(keys).toContain('photos/hotel/kyoto-gion/1.png')
    const png = await stores.photos.get('photos/hotel/kyoto-gion/1.png')
    expect(png.subarray(1, 4).toString()).toBe('PNG')
    expect(png.readUInt32BE(16)).toBe(PHOTO_WIDTH)
    expect(await stores.photos.exists('images-layout.json')).toBe(true)

    const { byStatus, stores: described } = status(1)
    expect(described).toEqual(['catalog pg', 'media s3', 'photos fs', 'trips mongo', 'visitors redis'])
    expect(byStatus['catalog applied']).toEqual([
      'app/destinations',
      'app/hotels',
      'app/rooms',
      'app/page-views',
      'app/hotel-cards',
      'app/seed-catalog',
      '@travel/images/photo-table',
      'app/seed-photos',
    ])
    expect(byStatus['photos applied']).toEqual(['@travel/images/blob-layout'])
    expect(byStatus['visitors pending']).toEqual(['app/view-counters', 'app/search-suggestions'])
  })

  it('release 2: view counters backfilled from PostgreSQL into Redis, search suggestions', async () => {
    const output = await release(2)
    expect(output).toContain(`backfilled ${sizes.hotels} view counters`)
    const keys = visitorKeys(env.DEMO_REDIS_PREFIX)
    const first = pageViewRows(hotels)[0]!
    expect(await stores.visitors.redis.get(keys.views(first.hotel_slug))).toBe(String(first.views))
    expect(await stores.visitors.redis.zcard(keys.suggest)).toBe(sizes.hotels * 2)
    expect(await stores.visitors.redis.zrangebylex(keys.suggest, '[kyoto gi', '[kyoto gi\xff')).toEqual([
      'kyoto gion house|kyoto-gion',
    ])
    expect(destinationRows(sizes)[0]!.slug).toBe('kyoto')
    const { byStatus } = status(2)
    expect(byStatus['visitors applied']).toEqual(['app/view-counters', 'app/search-suggestions'])
    expect(byStatus['visitors pending']).toBeUndefined()
  })
})
