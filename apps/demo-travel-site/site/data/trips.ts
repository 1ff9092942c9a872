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
/** How old the review digest may get before a page read starts building a new one. */
export const REVIEW_DIGEST_TTL_MS = 60_000

export interface ReviewSummary {
  /** The newest {@link REVIEWS_SHOWN} reviews. */
  latest: Review[]
  count: number
  /** Mean rating, 0 without reviews. */
  rating: number
}

export interface Trips {
  itinerary(id: number): Promise<Itinerary | null>
  /** Some of a destination's itineraries. */
  itinerariesOf(destination: string): Promise<Itinerary[]>
  /** A hotel's newest reviews, their count and mean rating. */
  reviewsOf(hotel: string): Promise<ReviewSummary>
  /** Starts reading the reviews, so that the first hotel page does not wait for it. */
  warm(): void
}

/**
 * Itineraries and reviews in MongoDB (release 3). Before release 3 the collections do not
 * exist, and MongoDB reads them as empty.
 *
 * Reviews are read whole into a digest (per hotel: count, rating, newest reviews), rebuilt in
 * the background once older than {@link REVIEW_DIGEST_TTL_MS}: the project's MongoDB is
 * FerretDB on SQLite, which scans the whole collection for any filter other than `_id`,
 * whatever its indexes (on MongoDB the index {hotel: 1, createdAt: -1} would serve a query per
 * page). One scan per minute instead of one per page view keeps hotel pages fast.
 */
export function tripsOf(client: MongoStoreClient): Trips {
  const itineraries = client.db.collection<Itinerary>('itineraries')
  const reviews = client.db.collection<Review>('reviews')
  // the newest digest read (or the first, while it is read), and whether a newer one is being read
  let digest: { built: number; summaries: Promise<Map<string, ReviewSummary>> } | undefined
  let reading = false
  const read = () => {
    const next = { built: Date.now(), summaries: digestOf(reviews.find({})) }
    reading = true
    next.summaries
      .then(
        () => (digest = next),
        (error: unknown) => {
          // the site stopping closes the client under a read: nothing to report
          if ((error as Error).name !== 'MongoClientClosedError') {
            console.error('travel site: could not read the reviews:', error)
          }
          // a failed first read is not kept: the next page tries again
          if (digest === next) digest = undefined
        },
      )
      .finally(() => (reading = false))
    return next
  }
  return {
    itinerary: (id: number) => itineraries.findOne({ _id: id }),
    // no sort: FerretDB sorts outside SQLite too, and stops its scan at the limit only unsorted
    itinerariesOf: (destination: string) => itineraries.find({ destination }).limit(12).toArray(),
    async reviewsOf(hotel: string) {
      if (!digest) digest = read()
      else if (!reading && Date.now() - digest.built > REVIEW_DIGEST_TTL_MS) read()
      return (await digest.summaries).get(hotel) ?? { latest: [], count: 0, rating: 0 }
    },
    warm() {
      if (!digest) digest = read()
    },
  }
}

async function digestOf(cursor: AsyncIterable<Review>): Promise<Map<string, ReviewSummary>> {
  const totals = new Map<string, { latest: Review[]; count: number; total: number }>()
  const newerFirst = (a: Review, b: Review) => b.createdAt.getTime() - a.createdAt.getTime() || b._id - a._id
  for await (const review of cursor) {
    const hotel = totals.get(review.hotel) ?? { latest: [], count: 0, total: 0 }
    totals.set(review.hotel, hotel)
    hotel.count++
    hotel.total += Number(review.rating)
    const { latest } = hotel
    if (latest.length < REVIEWS_SHOWN || newerFirst(review, latest[latest.length - 1]!) < 0) {
      latest.push(review)
      latest.sort(newerFirst)
      if (latest.length > REVIEWS_SHOWN) latest.pop()
    }
  }
  const summaries = new Map<string, ReviewSummary>()
  for (const [hotel, { latest, count, total }] of totals) summaries.set(hotel, { latest, count, rating: total / count })
  return summaries
}
