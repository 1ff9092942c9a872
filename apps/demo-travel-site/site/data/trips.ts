import type { MongoStoreClient } from '@flux/mongo'

export interface Stop {
  title: string
  note?: string
}

export interface Itinerary {
  _id: number
  destination: string
  title: string
  days: { day: number; stops: Stop[] }[]
}

export interface Review {
  _id: number
  hotel: string
  author: string
  rating: number
  body: string
  createdAt: Date
}

/** How many reviews a hotel page shows. */
export const REVIEWS_SHOWN = 10
/** How many itineraries a destination page lists. */
export const ITINERARIES_SHOWN = 12
/** How old the digest may get before a page read starts reading a new one. */
export const DIGEST_TTL_MS = 60_000

export interface ReviewSummary {
  /** The newest {@link REVIEWS_SHOWN} reviews. */
  latest: Review[]
  count: number
  /** Mean rating, 0 without reviews. */
  rating: number
}

/** What the pages list, read from both collections in one pass each. */
interface Digest {
  reviews: Map<string, ReviewSummary>
  /** The first {@link ITINERARIES_SHOWN} itineraries of each destination, by number. */
  itineraries: Map<string, Itinerary[]>
  reviewCount: number
  itineraryCount: number
}

export interface Trips {
  itinerary(id: number): Promise<Itinerary | null>
  /** The first itineraries of a destination, by number. */
  itinerariesOf(destination: string): Promise<Itinerary[]>
  /** A hotel's newest reviews, their count and mean rating. */
  reviewsOf(hotel: string): Promise<ReviewSummary>
  /** Reads the digest if it is not read yet, resolving with what it holds (never rejects: a failure is logged and retried by the next page). */
  ready(): Promise<{ reviews: number; itineraries: number } | undefined>
}

/**
 * Itineraries and reviews in MongoDB (release 3). Before release 3 the collections do not
 * exist, and MongoDB reads them as empty.
 *
 * An itinerary is read by `_id`. The lists (a hotel's reviews, a destination's itineraries)
 * come from a digest of both collections, read whole and read again in the background once
 * older than {@link DIGEST_TTL_MS}: the project's MongoDB is FerretDB on SQLite, which reads
 * the whole collection for any filter but `_id`, whatever its indexes (15 s for the demo's
 * 60,000 reviews; on MongoDB the index {hotel: 1, createdAt: -1} would serve a query per page).
 * One read a minute instead of one per page keeps every page fast.
 */
export function tripsOf(client: MongoStoreClient): Trips {
  const itineraries = client.db.collection<Itinerary>('itineraries')
  const reviews = client.db.collection<Review>('reviews')
  // the newest digest read (or the first, while it is read), and whether a newer one is being read
  let digest: { built: number; content: Promise<Digest> } | undefined
  let reading = false
  const read = () => {
    const next = { built: Date.now(), content: digestOf(reviews.find({}), itineraries.find({})) }
    reading = true
    next.content
      .then(
        () => (digest = next),
        (error: unknown) => {
          // the site stopping closes the client under a read: nothing to report
          if ((error as Error).name !== 'MongoClientClosedError') {
            console.error('travel site: could not read the reviews and itineraries:', error)
          }
          // a failed first read is not kept: the next page tries again
          if (digest === next) digest = undefined
        },
      )
      .finally(() => (reading = false))
    return next
  }
  const current = (): Promise<Digest> => {
    if (!digest) digest = read()
    else if (!reading && Date.now() - digest.built > DIGEST_TTL_MS) read()
    return digest.content
  }
  return {
    itinerary: (id: number) => itineraries.findOne({ _id: id }),
    itinerariesOf: async (destination: string) => (await current()).itineraries.get(destination) ?? [],
    reviewsOf: async (hotel: string) => (await current()).reviews.get(hotel) ?? { latest: [], count: 0, rating: 0 },
    async ready() {
      try {
        const content = await current()
        return { reviews: content.reviewCount, itineraries: content.itineraryCount }
      } catch {
        return undefined
      }
    },
  }
}

async function digestOf(
  reviewCursor: AsyncIterable<Review>,
  itineraryCursor: AsyncIterable<Itinerary>,
): Promise<Digest> {
  const [reviews, itineraries] = await Promise.all([
    reviewsByHotel(reviewCursor),
    itinerariesByDestination(itineraryCursor),
  ])
  return {
    reviews: reviews.summaries,
    itineraries: itineraries.lists,
    reviewCount: reviews.count,
    itineraryCount: itineraries.count,
  }
}

async function reviewsByHotel(cursor: AsyncIterable<Review>) {
  const totals = new Map<string, { latest: Review[]; count: number; total: number }>()
  const newerFirst = (a: Review, b: Review) => b.createdAt.getTime() - a.createdAt.getTime() || b._id - a._id
  let count = 0
  for await (const review of cursor) {
    count++
    const hotel = totals.get(review.hotel) ?? { latest: [], count: 0, total: 0 }
    totals.set(review.hotel, hotel)
    hotel.count++
    hotel.total += Number(review.rating)
    keepFirst(hotel.latest, review, REVIEWS_SHOWN, newerFirst)
  }
  const summaries = new Map<string, ReviewSummary>()
  for (const [hotel, { latest, count, total }] of totals) summaries.set(hotel, { latest, count, rating: total / count })
  return { summaries, count }
}

async function itinerariesByDestination(cursor: AsyncIterable<Itinerary>) {
  const lists = new Map<string, Itinerary[]>()
  let count = 0
  for await (const itinerary of cursor) {
    count++
    const list = lists.get(itinerary.destination) ?? []
    lists.set(itinerary.destination, list)
    keepFirst(list, itinerary, ITINERARIES_SHOWN, (a, b) => a._id - b._id)
  }
  return { lists, count }
}

/** Adds `item` to `list`, kept sorted by `order` and at most `size` long. */
function keepFirst<T>(list: T[], item: T, size: number, order: (a: T, b: T) => number): void {
  if (list.length === size && order(item, list[size - 1]!) >= 0) return
  list.push(item)
  list.sort(order)
  if (list.length > size) list.pop()
}
