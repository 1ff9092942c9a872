import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { access, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { applyRelease, DEMO_DIR, demoEnv, FLUX_BIN } from '../story/releases.ts'
import { dropStores, openStores, type TravelStores } from '../story/testing.ts'
import { visitorKeys } from '../story/visitor-keys.ts'

// The travel site in a real browser: Debian's chromium driven by playwright-core, against
// the site (`node site/main.ts`) over real servers, after releases 2, 3 and 4 of the story.
// Screenshots go to var/test-output/browser (git-ignored).
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const SCALE = 0.01
const env = demoEnv({ isolation: `browser_${process.pid}`, scale: SCALE })
const keys = visitorKeys(env.DEMO_REDIS_PREFIX)
const screenshots = join(DEMO_DIR, 'var/test-output/browser')
let browser: Browser
let stores: TravelStores
let site: { url: string; process: ChildProcess; output: () => string } | undefined

/** What this test needs and this machine lacks; like the servers' tests, it then fails under CI and is skipped elsewhere. */
const missing = !process.env.FLUX_TEST_PG_URL
  ? 'FLUX_TEST_PG_URL is not set: start the test servers with `scripts/services start`, then run `eval "$(scripts/services env)"`'
  : !existsSync(CHROMIUM)
    ? `${CHROMIUM} is missing: the browser test drives Debian's chromium (it downloads no browser); ` +
      'run scripts/setup as root (it installs it with apt-get), or `apt-get install chromium`, or set CHROMIUM_PATH'
    : undefined
const describeInBrowser = (name: string, fn: () => void) => {
  if (!missing) return describe(name, fn)
  if (process.env.CI && process.env.CI !== 'false')
    return describe(name, () => it('needs the test servers and chromium', () => expect.fail(missing)))
  console.warn(`skipping "${name}": ${missing}`)
  return describe.skip(`${name}: ${missing}`, fn)
}

async function release(n: number): Promise<void> {
  let output = ''
  const code = await applyRelease(n, { env, output: (text) => (output += text) })
  expect(code, output).toBe(0)
}

/** Starts `node site/main.ts` as `scripts/demo` does, on a free port, for the config of release `n`. */
async function startSite(n: number): Promise<string> {
  await stopSite()
  const child = spawn(process.execPath, ['site/main.ts'], {
    cwd: DEMO_DIR,
    env: { ...process.env, ...env, DEMO_RELEASE: String(n), PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (chunk) => (output += chunk))
  child.stderr.on('data', (chunk) => (output += chunk))
  const url = await new Promise<string>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`the site did not start within 30 s:\n${output}`)), 30_000)
    child.stdout.on('data', () => {
      const found = /travel site on (http:\/\/\S+)/.exec(output)
      if (found) {
        clearTimeout(deadline)
        resolve(found[1]!)
      }
    })
    child.once('exit', (code) => {
      clearTimeout(deadline)
      reject(new Error(`the site exited with ${code} before it started:\n${output}`))
    })
  })
  site = { url, process: child, output: () => output }
  return url
}

/** SIGTERM, as Ctrl-C or a service manager would: the site must stop cleanly (exit 0). */
async function stopSite(): Promise<void> {
  if (!site) return
  const { process: child, output } = site
  site = undefined
  if (child.exitCode !== null) return
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  expect(await exited, output()).toBe(0)
}

/** Opens `path` and saves a full-page screenshot named `name`. */
async function visit(page: Page, path: string, name: string): Promise<void> {
  const response = await page.goto(`${site!.url}${path}`)
  expect(response?.status(), `${path}:\n${site!.output()}`).toBe(200)
  const file = join(screenshots, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  console.log(`browser test: ${path} → ${file}`)
}

/** Every image of the page (`selector`: of a part of it), with whether it loaded (complete, natural width > 0). */
function images(page: Page, selector = 'img') {
  return page.$$eval(selector, (elements) =>
    // the DOM's HTMLImageElement, without the DOM's types in this Node project
    (elements as unknown as { currentSrc: string; complete: boolean; naturalWidth: number }[]).map((image) => ({
      src: new URL(image.currentSrc).pathname,
      loaded: image.complete && image.naturalWidth > 0,
    })),
  )
}

/** The `x-photo-store` header of every photo the page fetched, by photo path. */
function photoSources(page: Page): Map<string, string | undefined> {
  const sources = new Map<string, string | undefined>()
  page.on('response', (response) => {
    const path = new URL(response.url()).pathname
    if (path.startsWith('/photos/')) sources.set(path, response.headers()['x-photo-store'])
  })
  return sources
}

async function photoKeys(owner: string): Promise<string[]> {
  const { rows } = await stores.catalog.query<{ key: string }>(
    'select key from image_photos where owner = $1 order by position',
    [owner],
  )
  return rows.map((row) => row.key)
}

const photoPath = (key: string) => `/photos/${key}`

describeInBrowser('the travel site in a real browser', () => {
  beforeAll(async () => {
    await dropStores(env)
    stores = await openStores(env)
    await mkdir(screenshots, { recursive: true })
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] })
    console.log(`browser test: screenshots in ${screenshots}`)
  }, 120_000)

  afterAll(async () => {
    await stopSite()
    await browser?.close()
    await stores?.close()
    await dropStores(env)
  }, 120_000)

  // the first hotel the home page links, shared by the steps below
  let hotel: string

  it('release 2: the home page lists destinations and links hotels; a visit counts in Redis; no reviews yet', async () => {
    await release(1)
    await release(2)
    await startSite(2)
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
    await visit(page, '/', 'release-2-home')
    const covers = await images(page)
    expect(covers.length).toBeGreaterThan(0)
    expect(covers.filter((image) => !image.loaded)).toEqual([])
    const { rows: destinations } = await stores.catalog.query<{ slug: string }>(
      'select slug from destinations order by name',
    )
    expect(destinations.length).toBeGreaterThan(0)
    const shown = await page.$$eval('a[data-destination]', (links) => links.map((link) => link.getAttribute('href')))
    expect(shown).toEqual(destinations.map((destination) => `/destinations/${destination.slug}`))
    const hotelLinks = await page.$$eval('a[data-hotel]', (links) => links.map((link) => link.getAttribute('href')))
    expect(hotelLinks.length).toBeGreaterThan(0)
    hotel = hotelLinks[0]!.slice('/hotels/'.length)

    const before = Number(await stores.visitors.redis.get(keys.views(hotel)))
    await page.click(`a[data-hotel="${hotel}"]`)
    await page.waitForURL(`**/hotels/${hotel}`)
    expect(Number(await stores.visitors.redis.get(keys.views(hotel)))).toBe(before + 1)
    expect(await page.textContent('.views')).toBe(`viewed ${(before + 1).toLocaleString('en')} times`)
    expect(await page.textContent('.no-reviews')).toBe('No reviews yet.')
    // a second visit counts again, and the hotel is first in this visitor's recently viewed
    await visit(page, `/hotels/${hotel}`, 'release-2-hotel')
    expect(Number(await stores.visitors.redis.get(keys.views(hotel)))).toBe(before + 2)
    const visitor = (await page.context().cookies()).find((cookie) => cookie.name === 'wayfarer_visitor')
    expect(visitor).toBeDefined()
    expect(await stores.visitors.redis.lrange(keys.recent(visitor!.value), 0, -1)).toEqual([hotel])

    // the search box suggests from Redis as one types, and searching lists the hotel
    const { rows } = await stores.catalog.query<{ name: string; destination_name: string }>(
      'select name, destination_name from hotel_cards where slug = $1',
      [hotel],
    )
    const { name, destination_name: destination } = rows[0]!
    await page.locator('#q').pressSequentially(`${destination} ${name}`.toLowerCase(), { delay: 20 })
    await page.waitForFunction(() => document.querySelectorAll('#suggestions option').length > 0)
    const options = await page.$$eval('#suggestions option', (items) => items.map((item) => item.getAttribute('value')))
    expect(options).toContain(`${name}, ${destination}`)
    await page.press('#q', 'Enter')
    await page.waitForURL('**/search?q=*')
    expect(
      await page.$$eval('a[data-hotel]', (links) => links.map((link) => link.getAttribute('data-hotel'))),
    ).toContain(hotel)
    await page.screenshot({ path: join(screenshots, 'release-2-search.png'), fullPage: true })
    await page.close()
  })

  it('release 3: a hotel page shows its photos from the fs store and its reviews, an itinerary page MongoDB data', async () => {
    await stopSite()
    await release(3)
    await startSite(3)
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
    const sources = photoSources(page)
    await visit(page, `/hotels/${hotel}`, 'release-3-hotel')
    const expected = await photoKeys(`hotel:${hotel}`)
    expect(expected.length).toBeGreaterThan(0)
    expect(await images(page, '.gallery img')).toEqual(expected.map((key) => ({ src: photoPath(key), loaded: true })))
    // the recently viewed strip's covers too
    expect((await images(page)).filter((image) => !image.loaded)).toEqual([])
    for (const key of expected) {
      expect(sources.get(photoPath(key)), key).toBe('photos (fs)')
      await access(join(env.DEMO_PHOTOS_DIR!, key))
      expect(await stores.media.exists(key), `${key} in s3 before release 4`).toBe(false)
    }

    const reviews = stores.trips.db.collection('reviews')
    const reviewed = (await reviews.findOne({ hotel: { $ne: hotel } }, { sort: { _id: 1 } })) as {
      hotel: string
    } | null
    expect(reviewed).not.toBeNull()
    await visit(page, `/hotels/${reviewed!.hotel}`, 'release-3-reviewed-hotel')
    // recently viewed (Redis): the hotel seen before, not this one
    expect(await page.$$eval('.recent a', (links) => links.map((link) => link.getAttribute('href')))).toEqual([
      `/hotels/${hotel}`,
    ])
    const ratings = (await reviews.find({ hotel: reviewed!.hotel }).toArray()).map((review) => Number(review.rating))
    const mean = ratings.reduce((sum, rating) => sum + rating, 0) / ratings.length
    expect(await page.textContent('aside')).toContain(
      `${mean.toFixed(1)} / 5 from ${ratings.length} ${ratings.length === 1 ? 'review' : 'reviews'}`,
    )
    const newest = await reviews.find({ hotel: reviewed!.hotel }).sort({ createdAt: -1, _id: -1 }).limit(10).toArray()
    expect(await page.$$eval('.review .body', (items) => items.map((item) => item.textContent))).toEqual(
      newest.map((review) => review.body),
    )

    const itinerary = (await stores.trips.db.collection('itineraries').findOne({}, { sort: { _id: 1 } })) as {
      _id: number
      title: string
      days: { stops: { title: string }[] }[]
    } | null
    expect(itinerary).not.toBeNull()
    await visit(page, `/itineraries/${itinerary!._id}`, 'release-3-itinerary')
    expect(await page.textContent('h1')).toBe(itinerary!.title)
    const stops = await page.$$eval('.day li strong', (items) => items.map((item) => item.textContent))
    expect(stops).toEqual(itinerary!.days.flatMap((day) => day.stops.map((stop) => stop.title)))
    await page.close()
  })

  it('release 4: the same photos come from the s3 store; /flux shows every store and the graph', async () => {
    await stopSite()
    await release(4)
    await startSite(4)
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } })
    const sources = photoSources(page)
    await visit(page, `/hotels/${hotel}`, 'release-4-hotel')
    const expected = await photoKeys(`hotel:${hotel}`)
    expect(await images(page, '.gallery img')).toEqual(expected.map((key) => ({ src: photoPath(key), loaded: true })))
    // the recently viewed strip's covers too
    expect((await images(page)).filter((image) => !image.loaded)).toEqual([])
    for (const key of expected) {
      expect(sources.get(photoPath(key)), key).toBe('media (s3)')
      expect(await stores.media.exists(key), `${key} in s3`).toBe(true)
    }

    await visit(page, '/flux', 'release-4-flux')
    const status = spawnSync(process.execPath, [FLUX_BIN, 'status', '--json'], {
      cwd: DEMO_DIR,
      env: { ...process.env, ...env, DEMO_RELEASE: '4' },
      encoding: 'utf8',
    })
    expect(status.status, status.stderr).toBe(0)
    const report = JSON.parse(status.stdout) as { migrations: { id: string; status: string }[] }
    const rows = await page.$$eval('tr[data-migration]', (items) =>
      items.map((item) => ({
        id: item.getAttribute('data-migration'),
        status: item.querySelector('.badge')?.textContent,
      })),
    )
    expect(rows).toEqual(report.migrations.map((migration) => ({ id: migration.id, status: migration.status })))
    const shownStores = await page.$$eval('tr[data-store]', (items) =>
      items.map((item) => item.getAttribute('data-store')),
    )
    expect(shownStores.sort()).toEqual(['catalog', 'media', 'photos', 'trips', 'visitors'])
    expect(await page.locator('svg.flux-graph g.node').count()).toBe(report.migrations.length)
    await page.close()
  })
})
