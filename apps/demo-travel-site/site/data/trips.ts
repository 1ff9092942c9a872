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

export interface Trips {
  itinerary(id: number): Promise<Itinerary | null>
  /** A destination's itineraries, by number. */
  itinerariesOf(destination: string): Promise<Itinerary[]>
  /** The newest reviews of a hotel (the index {hotel: 1, createdAt: -1} serves it), with their count and mean rating. */
  reviewsOf(hotel: string): Promise<{ latest: Review[]; count: number; rating: number }>
}

/**
 * Itineraries and reviews in MongoDB (release 3). Before release 3 the collections do not
 * exist, and MongoDB reads them as empty.
 */
export function tripsOf(client: MongoStoreClient): Trips {
  const itineraries = client.db.collection<Itinerary>('itineraries')
  const reviews = client.db.collection<Review>('reviews')
  return {
    itinerary: (id: number) => itineraries.findOne({ _id: id }),
    itinerariesOf: (destination: string) =>
      itineraries
        .find({ destination }, { projection: { title: 1, destination: 1, days: 1 } })
        .sort({ _id: 1 })
        .limit(12)
        .toArray(),
    async reviewsOf(hotel: string) {
      const [latest, ratings] = await Promise.all([
        reviews.find({ hotel }).sort({ createdAt: -1 }).limit(REVIEWS_SHOWN).toArray(),
        // the mean here, not with $group: FerretDB (this project's MongoDB) has no $avg, and a
        // hotel has tens of reviews
        reviews.find({ hotel }, { projection: { _id: 0, rating: 1 } }).toArray(),
      ])
      const count = ratings.length
      const total = ratings.reduce((sum, review) => sum + Number(review.rating), 0)
      return { latest, count, rating: count === 0 ? 0 : total / count }
    },
  }
}
