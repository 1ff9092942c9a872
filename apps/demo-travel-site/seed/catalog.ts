// The seeded rows, computed (never stored): the same sizes give the same rows, so a seed
// migration, its test and a down() that puts rows back all agree.
import { destinations, type Place, slugOf, HOTEL_WORDS as WORDS } from './places.ts'
import { seeded } from './random.ts'
import type { Sizes } from './sizes.ts'

export interface Hotel {
  slug: string
  destination_slug: string
  name: string
  stars: number
  price_cents: number
  description: string
}

export interface Room {
  id: number
  hotel_slug: string
  kind: string
  beds: number
  price_cents: number
}

export function destinationRows(sizes: Sizes) {
  return destinations(sizes.destinations).map((place) => ({
    slug: place.slug,
    name: place.name,
    country: place.country,
    summary: `${place.name}, ${place.country}: stay in ${place.quarter} and walk everywhere.`,
  }))
}

export function hotelRows(sizes: Sizes): Hotel[] {
  const places = destinations(sizes.destinations)
  const random = seeded('hotels')
  const hotels: Hotel[] = []
  for (let index = 0; index < sizes.hotels; index++) {
    const place = places[index % places.length] as Place
    const rank = Math.floor(index / places.length)
    const [slug, name] = hotelName(place, rank)
    const stars = random.int(2, 5)
    hotels.push({
      slug,
      destination_slug: place.slug,
      name,
      stars,
      price_cents: (40 + stars * 25 + random.int(0, 60)) * 100,
      description: `A ${random.pick(WORDS.adjectives)} ${stars}-star stay in ${place.name} with ${random.pick(WORDS.features)}.`,
    })
  }
  return hotels
}

function hotelName(place: Place, rank: number): [string, string] {
  if (rank === 0) return [`${place.slug}-${slugOf(place.quarter)}`, `${place.quarter} House`]
  const combo = rank - 1
  const first = WORDS.first[combo % WORDS.first.length] as string
  const second = WORDS.second[Math.floor(combo / WORDS.first.length) % WORDS.second.length] as string
  const lap = Math.floor(combo / (WORDS.first.length * WORDS.second.length))
  const name = `${first} ${second}${lap > 0 ? ` ${lap + 1}` : ''}`
  return [`${place.slug}-${slugOf(name)}`, name]
}

export function roomRows(hotels: Hotel[]): Room[] {
  const random = seeded('rooms')
  const rooms: Room[] = []
  for (const hotel of hotels) {
    const count = random.int(2, 5)
    for (let index = 0; index < count; index++) {
      const kind = WORDS.rooms[index % WORDS.rooms.length] as string
      const beds = kind === 'single' ? 1 : kind === 'family' ? 4 : 2
      rooms.push({
        id: rooms.length + 1,
        hotel_slug: hotel.slug,
        kind,
        beds,
        price_cents: hotel.price_cents + index * 1500,
      })
    }
  }
  return rooms
}

/** Views the first site counted in PostgreSQL, before release 2 moved counters to Redis. */
export function pageViewRows(hotels: Hotel[]) {
  const random = seeded('views')
  return hotels.map((hotel) => ({ hotel_slug: hotel.slug, views: random.int(0, 5_000) }))
}

export function itineraryRows(sizes: Sizes) {
  const places = destinations(sizes.destinations)
  const random = seeded('itineraries')
  const itineraries: { id: number; destination_slug: string; title: string }[] = []
  const stops: { id: number; itinerary_id: number; day: number; position: number; title: string; note: string }[] = []
  for (let id = 1; id <= sizes.itineraries; id++) {
    const place = places[id % places.length] as Place
    const days = random.int(2, 7)
    itineraries.push({ id, destination_slug: place.slug, title: `${days} days in ${place.name}` })
    for (let day = 1; day <= days; day++) {
      const count = random.int(1, 3)
      for (let position = 1; position <= count; position++) {
        stops.push({
          id: stops.length + 1,
          itinerary_id: id,
          day,
          position,
          title: `${random.pick(WORDS.stops)}, ${place.quarter}`,
          note: random.pick(WORDS.notes),
        })
      }
    }
  }
  return { itineraries, stops }
}

export function reviewRows(sizes: Sizes, hotels: Hotel[]) {
  const random = seeded('reviews')
  const start = Date.UTC(2024, 0, 1)
  const reviews: { id: number; hotel_slug: string; author: string; rating: number; body: string; created_at: Date }[] =
    []
  for (let id = 1; id <= sizes.reviews; id++) {
    const hotel = hotels[random.int(0, hotels.length - 1)] as Hotel
    const author = random.pick(WORDS.authors)
    const rating = random.int(1, 5)
    const verdict = random.pick(WORDS.verdicts)
    const feature = random.pick(WORDS.features)
    reviews.push({
      id,
      hotel_slug: hotel.slug,
      author,
      rating,
      body: `${verdict}. ${feature[0]!.toUpperCase()}${feature.slice(1)} made it.`,
      created_at: new Date(start + random.int(0, 700) * 86_400_000 + random.int(0, 86_399) * 1000),
    })
  }
  return reviews
}
