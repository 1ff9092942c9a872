// How big the seeded site is. DEMO_SCALE=1 (scripts/demo) gives the sizes: thousands of
// hotels, tens of thousands of photos, over 100,000 itinerary and review rows. Tests use ~0.05.

export interface Sizes {
  destinations: number
  hotels: number
  photosPerHotel: number
  photosPerDestination: number
  itineraries: number
  reviews: number
}

export const DEMO_SIZES: Sizes = {
  destinations: 48,
  hotels: 4_000,
  photosPerHotel: 5,
  photosPerDestination: 3,
  itineraries: 6_000,
  reviews: 60_000,
}

export function sizesOf(scale = Number(process.env.DEMO_SCALE ?? 1)): Sizes {
  if (!(scale > 0)) throw new RangeError(`DEMO_SCALE must be a positive number, got "${process.env.DEMO_SCALE}"`)
  const scaled = (count: number, least: number) => Math.max(least, Math.round(count * scale))
  return {
    destinations: Math.min(DEMO_SIZES.destinations, scaled(DEMO_SIZES.destinations, 6)),
    hotels: scaled(DEMO_SIZES.hotels, 12),
    photosPerHotel: DEMO_SIZES.photosPerHotel,
    photosPerDestination: DEMO_SIZES.photosPerDestination,
    itineraries: scaled(DEMO_SIZES.itineraries, 6),
    reviews: scaled(DEMO_SIZES.reviews, 20),
  }
}
