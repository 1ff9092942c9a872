import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describeWithServer } from '@flux/core/testing'
import { afterAll, beforeAll, expect, it, vi } from 'vitest'
import { siteApp } from '../site/app.ts'
import { startSite } from '../site/main.ts'
import { openSiteStores, type SiteStores } from '../site/site-stores.ts'
import { applyRelease, DEMO_DIR } from '../story/releases.ts'
import { dropStores, openStores, type TravelStores } from '../story/testing.ts'

// The site's pages without a browser (hono's app.request), on the real servers: what each
// page says before the releases that fill its stores, HTML escaping, and which blobs
// /photos/* refuses to serve. The browser test covers the pages after every release.

// the config reads its variables when it is first imported, which this file's imports do:
// they are set before those run, for release 2's bindings
const env = await vi.hoisted(async () => {
  const { demoEnv } = await import('../story/releases.ts')
  const env = demoEnv({ isolation: `site_${process.pid}`, scale: 0.01 })
  Object.assign(process.env, env, { DEMO_RELEASE: '2' })
  return env
})
let stores: TravelStores
let site: SiteStores | undefined
let app: ReturnType<typeof siteApp>['app'] | undefined

async function release(n: number): Promise<void> {
  let output = ''
  const code = await applyRelease(n, { env, output: (text) => (output += text) })
  expect(code, output).toBe(0)
}

async function get(path: string) {
  app ??= siteApp(site!).app
  const response = await app.request(path)
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) }
}

describeWithServer('FLUX_TEST_PG_URL', 'the travel site pages', () => {
  beforeAll(async () => {
    await dropStores(env)
    stores = await openStores(env)
  }, 120_000)

  afterAll(async () => {
    await site?.close()
    await stores?.close()
    await dropStores(env)
  }, 120_000)

  it('before release 1, every page says what is missing instead of failing', async () => {
    site = await openSiteStores(DEMO_DIR)
    expect([...site.unavailable]).toEqual([])
    const home = await get('/')
    expect(home.status).toBe(200)
    expect(String(home.body)).toContain('No destinations yet: apply release 1')
    const hotel = await get('/hotels/kyoto-gion')
    expect(hotel.status).toBe(404)
    expect(String(hotel.body)).toContain('No hotel is called “kyoto-gion”.')
    expect((await get('/itineraries/1')).status).toBe(404)
    expect((await get('/no/such/page')).status).toBe(404)
    const flux = String((await get('/flux')).body)
    for (const store of ['catalog', 'media', 'photos', 'trips', 'visitors'])
      expect(flux).toContain(`data-store="${store}"`)
    expect(flux).not.toContain('class="badge applied"')
    expect(flux).toContain('class="badge pending"')
  })

  it('after releases 1 and 2: pages escape what the stores hold, photos come only from the component', async () => {
    await release(1)
    await release(2)
    await stores.catalog.query(
      `insert into destinations (slug, name, country, summary) values ('xss', '<script>alert(1)</script>', 'A & B', '"quoted"')`,
    )
    const home = String((await get('/')).body)
    expect(home).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(home).not.toContain('<script>alert(1)')
    expect(home).toContain('A &amp; B')

    const { rows } = await stores.catalog.query<{ key: string; owner: string }>(
      "select key, owner from image_photos where owner like 'hotel:%' order by key limit 1",
    )
    const key = rows[0]!.key
    const photo = await get(`/photos/${key}`)
    expect(photo.status).toBe(200)
    expect(photo.headers.get('content-type')).toBe('image/png')
    expect(photo.headers.get('x-photo-store')).toBe('photos (fs)')
    expect(photo.headers.get('cache-control')).toBe('public, max-age=3600')
    expect(photo.body.equals(await readFile(join(env.DEMO_PHOTOS_DIR!, key)))).toBe(true)
    // a blob the images component does not know, flux's own ledger, a path out of the store
    await stores.photos.put('private/notes.txt', Buffer.from('not a photo'))
    for (const path of [
      '/photos/private/notes.txt',
      '/photos/.flux/ledger.jsonl',
      '/photos/..%2Fflux.config.ts',
      '/photos/%E0%A4%A',
    ]) {
      expect((await get(path)).status, path).toBe(404)
    }

    const hotel = String((await get(`/hotels/${rows[0]!.owner.slice('hotel:'.length)}`)).body)
    expect(hotel).toContain(`src="/photos/${key}"`)
    expect(hotel).toContain('No reviews yet.')

    const name = (
      await stores.catalog.query<{ name: string; slug: string }>('select name, slug from hotels order by slug limit 1')
    ).rows[0]!
    const suggestions = JSON.parse(
      String((await get(`/search/suggest?q=${encodeURIComponent(name.name.slice(0, 4))}`)).body),
    )
    expect(suggestions).toContainEqual(expect.objectContaining({ slug: name.slug }))
    const search = String((await get(`/search?q=${encodeURIComponent(name.name)}`)).body)
    expect(search).toContain(`href="/hotels/${name.slug}"`)
  })

  // last: the config is imported once, so this site shares the stores above, and closes them
  it('startSite serves on a free port, says what it read, and close() stops it', async () => {
    const lines: string[] = []
    const running = await startSite({ port: 0, log: (line) => lines.push(line) })
    expect(running.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(lines).toEqual([
      'travel site: reading the reviews and itineraries (MongoDB store "trips")…',
      expect.stringMatching(/^travel site: read 0 reviews and 0 itineraries in \d+\.\d s$/),
    ])
    const home = await fetch(`${running.url}/`)
    expect(home.status).toBe(200)
    expect(await home.text()).toContain('<h2>Destinations</h2>')
    await running.close()
    await expect(fetch(`${running.url}/`)).rejects.toThrow()
  })
})
