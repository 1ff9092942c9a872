import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pgStore } from '@flux/pg'
import { s3Store } from '@flux/s3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyRelease, DEMO_DIR, demoEnv, FLUX_BIN } from '../../demo-travel-site/story/releases.ts'
import {
  deletePrefix,
  dropStores,
  openStores,
  type TravelStores,
  whenServers,
} from '../../demo-travel-site/story/testing.ts'

// One component, two applications: @travel/images in the travel site (meta → its catalog
// schema, blobs → its photos directory) and in this shop (meta → the shop's schema, blobs →
// an S3 prefix). Each application's flux runs the component's migrations in its own stores only.
const SHOP_DIR = join(dirname(fileURLToPath(import.meta.url)), '..')
const travelEnv = demoEnv({ isolation: `shop_travel_${process.pid}`, scale: 0.01 })
const shopEnv = { ...travelEnv, SHOP_PG_SCHEMA: `shop_${process.pid}`, SHOP_S3_PREFIX: `shop_${process.pid}/` }
const shop = pgStore({ url: travelEnv.DATABASE_URL, schema: shopEnv.SHOP_PG_SCHEMA })
const assets = s3Store({
  bucket: travelEnv.S3_BUCKET,
  prefix: shopEnv.SHOP_S3_PREFIX,
  region: travelEnv.AWS_REGION,
  endpoint: travelEnv.S3_ENDPOINT,
  forcePathStyle: true,
})
let travel: TravelStores

function flux(dir: string, env: Record<string, string>, ...args: string[]) {
  const result = spawnSync(process.execPath, [FLUX_BIN, ...args], {
    cwd: dir,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    encoding: 'utf8',
  })
  return { code: result.status, output: result.stdout + result.stderr, stdout: result.stdout }
}

function statusOf(dir: string, env: Record<string, string>) {
  const result = flux(dir, env, 'status', '--json')
  expect(result.code, result.output).toBe(0)
  const rows = JSON.parse(result.stdout).migrations as { id: string; store: string; status: string }[]
  return rows.map((row) => `${row.id} ${row.store} ${row.status}`)
}

async function cleanShop() {
  await shop.client().query(`drop schema if exists "${shopEnv.SHOP_PG_SCHEMA}" cascade`)
  await deletePrefix(assets.client())
}

beforeAll(async () => {
  if (!whenServers()) return
  // the S3 SDK reads its credentials from this process's variables
  process.env.AWS_ACCESS_KEY_ID ??= travelEnv.AWS_ACCESS_KEY_ID
  process.env.AWS_SECRET_ACCESS_KEY ??= travelEnv.AWS_SECRET_ACCESS_KEY
  await shop.open()
  await assets.open()
  await cleanShop()
  await dropStores(travelEnv)
  travel = await openStores(travelEnv)
})
afterAll(async () => {
  if (!whenServers()) return
  await travel?.close()
  await dropStores(travelEnv)
  await cleanShop()
  await shop.close()
  await assets.close()
})

describe.skipIf(!whenServers())('the @travel/images component in a second application', () => {
  it("runs its migrations in the shop's stores, and the travel site's in the travel site's", async () => {
    expect(await applyRelease(1, { env: travelEnv, output: () => {} })).toBe(0)
    const up = flux(SHOP_DIR, shopEnv, 'up')
    expect(up.code, up.output).toBe(0)
    expect(up.output).toContain('saved 3 product photos')

    expect(statusOf(SHOP_DIR, shopEnv).sort()).toEqual([
      '@travel/images/20261020090000_photo-table shop applied',
      '@travel/images/20261020090100_blob-layout assets applied',
      'app/20261110090000_products shop applied',
      'app/20261110090100_product-photos shop applied',
    ])
    const travelStatus = statusOf(DEMO_DIR, { ...travelEnv, DEMO_RELEASE: '1' })
    expect(travelStatus).toContain('@travel/images/20261020090000_photo-table catalog applied')
    expect(travelStatus).toContain('@travel/images/20261020090100_blob-layout photos applied')
    expect(travelStatus.filter((row) => row.includes('product'))).toEqual([])

    const { rows: shopPhotos } = await shop
      .client()
      .query<{ key: string }>(`select key from "${shopEnv.SHOP_PG_SCHEMA}".image_photos order by key`)
    expect(shopPhotos.map((row) => row.key)).toEqual([
      'photos/product/map-oaxaca/1.png',
      'photos/product/mug-kyoto/1.png',
      'photos/product/tote-lisbon/1.png',
    ])
    expect(await assets.client().list('photos/')).toEqual(shopPhotos.map((row) => row.key))
    expect(await assets.client().exists('images-layout.json')).toBe(true)
    const { rows: travelProducts } = await travel.catalog.query(
      "select key from image_photos where owner like 'product:%'",
    )
    expect(travelProducts).toEqual([])
    // in release 1 the travel site binds blobs to its directory: its bucket prefix has nothing of the component
    expect(await travel.media.exists('images-layout.json')).toBe(false)

    const down = flux(SHOP_DIR, shopEnv, 'down', 'base', '--yes')
    expect(down.code, down.output).toBe(0)
    expect(await assets.client().list('')).toEqual([])
    expect(await travel.photos.exists('images-layout.json')).toBe(true)
    const { rows: tables } = await shop
      .client()
      .query<{ found: string | null }>(`select to_regclass('"${shopEnv.SHOP_PG_SCHEMA}".image_photos')::text as found`)
    expect(tables).toEqual([{ found: null }])
    const { rows } = await travel.catalog.query<{ count: string }>('select count(*) as count from image_photos')
    expect(Number(rows[0]!.count)).toBeGreaterThan(0)
  })
})
