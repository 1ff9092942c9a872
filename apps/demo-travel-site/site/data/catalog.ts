import type { PgClient } from '@flux/pg'

export interface Destination {
  slug: string
  name: string
  country: string
  summary: string
  hotels: number
}

export interface HotelCard {
  slug: string
  name: string
  stars: number
  destinationSlug: string
  destinationName: string
  country: string
  priceFromCents: number | null
}

export interface Hotel extends HotelCard {
  description: string
  priceCents: number
}

export interface Room {
  id: number
  kind: string
  beds: number
  priceCents: number
}

/** PostgreSQL's "relation does not exist": the release that creates the table has not run yet. */
const UNDEFINED_TABLE = '42P01'

/**
 * Reads the catalog (pg). Table names are unqualified: the config puts the demo's schema on
 * the connection's search_path. Tables that do not exist yet read as empty.
 */
export function catalogOf(client: PgClient) {
  const rows = async <Row>(text: string, params: unknown[] = []): Promise<Row[]> => {
    try {
      return (await client.query<Row>(text, params)).rows
    } catch (error) {
      if (codeOf(error) === UNDEFINED_TABLE) return []
      throw error
    }
  }
  const cardColumns = `slug, name, stars, destination_slug as "destinationSlug", destination_name as "destinationName",
    country, price_from_cents::int as "priceFromCents"`
  return {
    destinations: () =>
      rows<Destination>(
        `select d.slug, d.name, d.country, d.summary, count(h.slug)::int as hotels
           from destinations d left join hotels h on h.destination_slug = d.slug
          group by d.slug order by d.name`,
      ),
    destination: async (slug: string) =>
      (
        await rows<Destination>(`select slug, name, country, summary, 0 as hotels from destinations where slug = $1`, [
          slug,
        ])
      )[0],
    /** The best-rated hotels first, then by name. */
    /** The best hotel of each destination (most stars, then dearest), best first: the home page's picks. */
    topHotelCards: (limit: number) =>
      rows<HotelCard>(
        `select ${cardColumns} from (
           select distinct on (destination_slug) * from hotel_cards
            order by destination_slug, stars desc, price_from_cents desc nulls last, slug
         ) best order by stars desc, price_from_cents desc nulls last, slug limit $1`,
        [limit],
      ),
    hotelCards: (options: { destination?: string; limit: number }) =>
      rows<HotelCard>(
        `select ${cardColumns} from hotel_cards
          where $1::text is null or destination_slug = $1
          order by stars desc, name limit $2`,
        [options.destination ?? null, options.limit],
      ),
    /** Cards of these hotels, in the order given (for "recently viewed"). */
    hotelCardsOf: async (slugs: string[]) => {
      if (slugs.length === 0) return []
      const found = await rows<HotelCard>(`select ${cardColumns} from hotel_cards where slug = any($1)`, [slugs])
      return slugs.flatMap((slug) => found.filter((card) => card.slug === slug))
    },
    hotel: async (slug: string) =>
      (
        await rows<Hotel>(
          `select h.slug, h.name, h.stars, h.description, h.price_cents as "priceCents",
                  d.slug as "destinationSlug", d.name as "destinationName", d.country, null as "priceFromCents"
             from hotels h join destinations d on d.slug = h.destination_slug
            where h.slug = $1`,
          [slug],
        )
      )[0],
    rooms: (hotel: string) =>
      rows<Room>(
        `select id, kind, beds, price_cents as "priceCents" from rooms where hotel_slug = $1 order by price_cents, id`,
        [hotel],
      ),
    hotelCount: async () => (await rows<{ count: number }>(`select count(*)::int as count from hotels`))[0]?.count ?? 0,
  }
}

export type Catalog = ReturnType<typeof catalogOf>

function codeOf(error: unknown): unknown {
  // node-postgres puts the SQLSTATE on the error, core's wrapper on its cause
  const seen = error as { code?: unknown; cause?: { code?: unknown } }
  return seen?.cause?.code === UNDEFINED_TABLE ? UNDEFINED_TABLE : seen?.code
}
