import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { destinationRows, hotelRows, itineraryRows, pageViewRows } from '../seed/catalog.ts'
import { PHOTO_WIDTH } from '../seed/png.ts'
import { sizesOf } from '../seed/sizes.ts'
import { applyRelease, DEMO_DIR, demoEnv, FLUX_BIN, runFlux } from '../story/releases.ts'
import { dropStores, openStores, type TravelStores, whenServers } from '../story/testing.ts'
import { visitorKeys } from '../story/visitor-keys.ts'

// The whole story from empty stores, release by release, on the real servers: after each
// release, what each store holds and what each ledger says (`flux status --json`).
const SCALE = 0.05
const env = demoEnv({ isolation: `story_${process.pid}`, scale: SCALE })
const sizes = sizesOf(SCALE)
const hotels = hotelRows(sizes)
const photoCount = sizes.destinations * sizes.photosPerDestination + sizes.hotels * sizes.photosPerHotel
const trips = itineraryRows(sizes)
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

/** `flux <args>` with DEMO_RELEASE=n, its output captured. */
function flux(n: number, ...args: string[]) {
  return spawnSync(process.execPath, [FLUX_BIN, ...args], {
    cwd: DEMO_DIR,
    env: { ...process.env, ...env, DEMO_RELEASE: String(n) },
    encoding: 'utf8',
  })
}

/** `flux status --json` with DEMO_RELEASE=n: each migration's status, by id, and the stores. */
function status(n: number) {
  const result = flux(n, 'status', '--json')
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

describe.skipIf(!whenServers())('the travel site, release by release', () => {
  it('release 1: the catalog in PostgreSQL, the images component, PNGs on disk', async () => {
    const output = await release(1)
    expect(output).toContain(`seeded ${sizes.destinations} destinations, ${sizes.hotels} hotels`)
    expect(await count('destinations')).toBe(sizes.destinations)
    expect(await count('hotels')).toBe(sizes.hotels)
    const photos = photoCount
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

  it('release 3: itineraries and reviews copied to MongoDB on two merged branches, then dropped from PostgreSQL', async () => {
    const output = await release(3)
    const rows = trips.itineraries.length + trips.stops.length + sizes.reviews
    expect(output).toContain(`(${rows} rows)`)
    expect(output).toContain(`copied ${sizes.reviews} reviews from the start`)
    expect(output).toContain(`verified: ${sizes.reviews} reviews in mongo, the same ids as pg`)
    expect(output).toContain(`copied ${sizes.itineraries} itineraries from the start`)
    await expectTrips()
    const { rows: tables } = await stores.catalog.query<{ found: string | null }>(
      "select to_regclass('reviews')::text as found union all select to_regclass('itineraries')::text",
    )
    expect(tables).toEqual([{ found: null }, { found: null }])
    const { byStatus } = status(3)
    expect(byStatus['trips applied']).toEqual(['app/move-reviews', 'app/move-itineraries', 'app/merge-heads'])
    expect(byStatus['catalog applied']?.slice(-3)).toEqual(['app/trips-tables', 'app/seed-trips', 'app/drop-pg-trips'])
    expect(byStatus['media pending']).toEqual(['app/photos-to-media'])
    // the two teams' branches are joined: one head per component
    const heads = flux(3, 'heads', '--json')
    expect(JSON.parse(heads.stdout).components).toEqual([
      { component: 'app', heads: ['app/20261207100430_photos-to-media'] },
      { component: '@travel/images', heads: ['@travel/images/20261020090100_blob-layout'] },
    ])
  })

  it('release 4: the images component rebound to s3, its photos copied there, the photos store retired', async () => {
    const output = await release(4)
    expect(output).toContain(`copied ${photoCount} photos to s3`)
    expect(output).toContain('nothing to apply')
    await expectMediaPhotos()
    const { byStatus, stores: described } = status(4)
    expect(described).toEqual(['catalog pg', 'media s3', 'trips mongo', 'visitors redis'])
    expect(byStatus['media applied']).toEqual(['@travel/images/blob-layout'])
    // a retired store's migrations, and those that used it, count as satisfied
    expect(byStatus['media retired']).toEqual(['app/photos-to-media'])
    expect(byStatus['catalog retired']).toEqual(['app/seed-photos'])
    expect(Object.keys(byStatus).filter((group) => !/applied|retired/.test(group))).toEqual([])
    const verify = flux(4, 'verify')
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)
    expect(verify.stdout).toContain('verified: migrations and flux.sum match the stores')
  })

  it('down to release 2 takes MongoDB, S3 and the pg trips tables back; up again restores releases 3 and 4', async () => {
    let output = ''
    const code = await runFlux(['down', 'search-suggestions', '--yes'], {
      env: { ...env, DEMO_RELEASE: '2' },
      output: (text) => (output += text),
    })
    expect(code, output).toBe(0)
    expect(output).toContain('7 reverted')
    expect(await stores.trips.db.listCollections({ name: 'reviews' }).toArray()).toEqual([])
    expect(await stores.media.list('photos/')).toEqual([])
    expect(await stores.photos.list('photos/')).toHaveLength(photoCount)
    const { rows } = await stores.catalog.query<{ found: string | null }>(
      "select to_regclass('reviews')::text as found",
    )
    expect(rows).toEqual([{ found: null }])
    const { byStatus } = status(2)
    expect(byStatus['trips pending']).toEqual(['app/move-reviews', 'app/move-itineraries', 'app/merge-heads'])
    expect(byStatus['visitors applied']).toEqual(['app/view-counters', 'app/search-suggestions'])

    await release(3)
    await expectTrips()
    await release(4)
    await expectMediaPhotos()
    expect(Object.keys(status(4).byStatus).filter((group) => !/applied|retired/.test(group))).toEqual([])
  })
})

async function expectTrips() {
  const reviews = stores.trips.db.collection('reviews')
  expect(await reviews.countDocuments()).toBe(sizes.reviews)
  expect(await stores.trips.db.collection('itineraries').countDocuments()).toBe(sizes.itineraries)
  const review = await reviews.findOne({ _id: 1 as never })
  expect(Object.keys(review ?? {})).toEqual(['_id', 'hotel', 'author', 'rating', 'body', 'createdAt'])
  expect(review?.createdAt).toBeInstanceOf(Date)
  const indexes = await reviews.indexes()
  expect(indexes.map((index) => index.key)).toContainEqual({ hotel: 1, createdAt: -1 })
  const itinerary = await stores.trips.db.collection('itineraries').findOne({ _id: 1 as never })
  const first = trips.itineraries[0]!
  const stops = trips.stops.filter((stop) => stop.itinerary_id === 1)
  expect(itinerary).toMatchObject({ _id: 1, destination: first.destination_slug, title: first.title })
  expect(itinerary?.days.flatMap((day: { stops: unknown[] }) => day.stops)).toEqual(
    stops.map((stop) => ({ title: stop.title, note: stop.note })),
  )
}

async function expectMediaPhotos() {
  const keys = await stores.media.list('photos/')
  expect(keys).toHaveLength(photoCount)
  expect(await stores.media.exists('images-layout.json')).toBe(true)
  const copied = await stores.media.get('photos/hotel/kyoto-gion/1.png')
  expect(copied.equals(await stores.photos.get('photos/hotel/kyoto-gion/1.png'))).toBe(true)
}
