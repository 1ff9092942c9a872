import { randomUUID } from 'node:crypto'
import { blobKeyProblem } from '@flux/core'
import { photosOf } from '@travel/images'
import { type Context, Hono } from 'hono'
import { getCookie, setCookie } from 'hono/cookie'
import { catalogOf, type HotelCard } from './data/catalog.ts'
import { contentTypeOf, openBlob, type Photo, photoMetaOf } from './data/photos.ts'
import { tripsOf } from './data/trips.ts'
import { visitorsOf } from './data/visitors.ts'
import { readFluxStatus } from './flux-status.ts'
import { type SiteStores, STORE_NAMES } from './site-stores.ts'
import { fluxPage } from './views/flux-page.ts'
import type { Html } from './views/layout.ts'
import {
  type Around,
  destinationPage,
  errorPage,
  homePage,
  hotelPage,
  itineraryPage,
  notFoundPage,
  searchPage,
} from './views/pages.ts'

/** The visitor's id, kept in a cookie: the key of their "recently viewed" list in Redis. */
export const VISITOR_COOKIE = 'wayfarer_visitor'
/** Response header naming the store a photo's bytes came from, like `media (s3)`. */
export const PHOTO_STORE_HEADER = 'x-photo-store'
/** How many hotels a search shows. */
export const SEARCH_RESULTS = 24
/** How many hotels the home page shows. */
export const HOME_HOTELS = 12

export interface Site {
  app: Hono
  /**
   * Reads what the pages list from MongoDB (see `tripsOf`), resolving with how many reviews
   * and itineraries it read, or `undefined` without a trips store or when it failed (logged).
   */
  ready(): Promise<{ reviews: number; itineraries: number } | undefined>
}

/** The site's routes over the stores the config names (see site-stores.ts). */
export function siteApp(stores: SiteStores): Site {
  const app = new Hono()
  const catalog = stores.catalog && catalogOf(stores.catalog)
  const visitors = stores.visitors && visitorsOf(stores.visitors, stores.redisPrefix)
  const trips = stores.trips && tripsOf(stores.trips)
  const meta = stores.photoMeta && photoMetaOf(stores.photoMeta)
  /** Why `what` is not on a page: its store could not be reached, is retired, or is not configured. */
  const absent = (name: string, what: string): string =>
    stores.unavailable.has(name)
      ? `${what} are unavailable: store "${name}" could not be reached.`
      : stores.project.retired.includes(name)
        ? `${what} are not shown: store "${name}" is retired in this configuration.`
        : `${what} are not shown: flux.config.ts has no store "${name}".`

  /** What every page shows around its content: recently viewed, covers, view counts, notices. */
  async function around(c: Context, cards: HotelCard[], options: { owners?: string[]; page?: string } = {}) {
    const visitor = getCookie(c, VISITOR_COOKIE)
    // on a hotel's page, the others: the visit has just put this one first
    const recentSlugs = (visitors && visitor ? await visitors.recent(visitor) : []).filter(
      (slug) => slug !== options.page,
    )
    const recent = catalog ? await catalog.hotelCardsOf(recentSlugs) : []
    const slugs = [...new Set([...cards, ...recent].map((card) => card.slug))]
    const covers: Map<string, Photo> = meta
      ? await meta.coversOf([...(options.owners ?? []), ...slugs.map((slug) => `hotel:${slug}`)])
      : new Map()
    const views = visitors ? await visitors.viewsOf(slugs) : new Map<string, number>()
    const notices: string[] = []
    if (!catalog) notices.push(absent(STORE_NAMES.catalog, 'Destinations and hotels'))
    if (!visitors) notices.push(absent(STORE_NAMES.visitors, 'View counts and recently viewed hotels'))
    if (!stores.photos)
      notices.push('Photos are unavailable: the images component\'s "blobs" store could not be opened.')
    return { recent, covers, views, notices } satisfies Around
  }

  const respond = async (c: Context, body: Html, status: 200 | 404 = 200) => c.html(await body, status)

  app.get('/', async (c) => {
    const destinations = catalog ? await catalog.destinations() : []
    const hotels = catalog ? await catalog.topHotelCards(HOME_HOTELS) : []
    const owners = destinations.map((destination) => `destination:${destination.slug}`)
    return respond(c, homePage(destinations, hotels, await around(c, hotels, { owners })))
  })

  app.get('/destinations/:slug', async (c) => {
    const destination = catalog && (await catalog.destination(c.req.param('slug')))
    if (!destination) return respond(c, notFoundPage(`No destination is called “${c.req.param('slug')}”.`), 404)
    const hotels = await catalog.hotelCards({ destination: destination.slug, limit: 48 })
    const itineraries = trips ? await trips.itinerariesOf(destination.slug) : []
    const surroundings = await around(c, hotels)
    if (!trips) surroundings.notices.push(absent(STORE_NAMES.trips, 'Itineraries'))
    return respond(c, destinationPage(destination, hotels, itineraries, surroundings))
  })

  app.get('/hotels/:slug', async (c) => {
    const hotel = catalog && (await catalog.hotel(c.req.param('slug')))
    if (!hotel) return respond(c, notFoundPage(`No hotel is called “${c.req.param('slug')}”.`), 404)
    let views: number | undefined
    if (visitors) {
      let visitor = getCookie(c, VISITOR_COOKIE)
      if (!visitor || !/^[\w-]{8,64}$/.test(visitor)) {
        visitor = randomUUID()
        setCookie(c, VISITOR_COOKIE, visitor, { path: '/', httpOnly: true, sameSite: 'Lax', maxAge: 365 * 24 * 3600 })
      }
      views = await visitors.visit(hotel.slug, visitor)
    }
    const [photos, rooms, reviews, surroundings] = await Promise.all([
      stores.photoMeta ? photosOf(stores.photoMeta, `hotel:${hotel.slug}`) : [],
      catalog.rooms(hotel.slug),
      trips ? trips.reviewsOf(hotel.slug) : { latest: [], count: 0, rating: 0 },
      around(c, [], { page: hotel.slug }),
    ])
    if (!trips) surroundings.notices.push(absent(STORE_NAMES.trips, 'Reviews'))
    return respond(c, hotelPage({ hotel, photos, rooms, reviews, views }, surroundings))
  })

  app.get('/itineraries/:id', async (c) => {
    const id = Number(c.req.param('id'))
    const itinerary = trips && Number.isSafeInteger(id) ? await trips.itinerary(id) : null
    if (!itinerary) return respond(c, notFoundPage(`No itinerary has the number ${c.req.param('id')}.`), 404)
    return respond(c, itineraryPage(itinerary, catalog && (await catalog.destination(itinerary.destination))))
  })

  app.get('/photos/*', async (c) => {
    const key = decodedOrUndefined(c.req.path.slice('/photos/'.length))
    // only the component's photos, never another blob of the store (nor its ledger)
    if (key === undefined || blobKeyProblem(key, '.flux') !== undefined || !meta || !(await meta.photo(key))) {
      return c.text(`no photo ${key}`, 404)
    }
    if (!stores.photos) return c.text('photos are unavailable: their store could not be opened', 503)
    const body = await openBlob(stores.photos, key)
    return c.body(body, 200, {
      'content-type': contentTypeOf(key),
      'cache-control': 'public, max-age=3600',
      [PHOTO_STORE_HEADER]: `${stores.photos.name} (${stores.photos.kind})`,
    })
  })

  app.get('/search/suggest', async (c) => {
    const suggestions = visitors ? await visitors.suggest((c.req.query('q') ?? '').slice(0, 100)) : []
    const cards = catalog ? await catalog.hotelCardsOf(suggestions.map((suggestion) => suggestion.slug)) : []
    return c.json(
      suggestions.map((suggestion) => {
        const card = cards.find((candidate) => candidate.slug === suggestion.slug)
        return { slug: suggestion.slug, label: card ? `${card.name}, ${card.destinationName}` : suggestion.term }
      }),
    )
  })

  app.get('/search', async (c) => {
    const query = (c.req.query('q') ?? '').slice(0, 100)
    const suggestions = visitors ? await visitors.suggest(query, SEARCH_RESULTS) : []
    const cards = catalog ? await catalog.hotelCardsOf(suggestions.map((suggestion) => suggestion.slug)) : []
    return respond(c, searchPage(query, cards, await around(c, cards)))
  })

  app.get('/flux', async (c) => respond(c, fluxPage(await readFluxStatus(stores))))

  app.notFound((c) => respond(c, notFoundPage(`There is no page at ${c.req.path}.`), 404))
  app.onError(async (error, c) => {
    console.error(`travel site: ${c.req.method} ${c.req.path} failed:`, error)
    return c.html(await errorPage(error.message), 500)
  })
  return { app, ready: async () => trips?.ready() }
}

/** A path segment with its %-escapes decoded, `undefined` when they are malformed. */
function decodedOrUndefined(path: string): string | undefined {
  try {
    return decodeURIComponent(path)
  } catch {
    return undefined
  }
}
