// The Redis keys of the `visitors` store (release 2), shared by its migrations and the site.
// Redis has no schemas: every key starts with DEMO_REDIS_PREFIX (default 'travel'), which is
// also the prefix of flux's own ledger keys there ({travel}:ledger …).

export const DEFAULT_REDIS_PREFIX = 'travel'

export interface VisitorKeys {
  /** Views of a hotel's page: an integer string. */
  views(hotelSlug: string): string
  /** Hotels a visitor saw, newest first, at most {@link RECENT_LIMIT}: a list. */
  recent(visitorId: string): string
  /** Search suggestions: a sorted set, every score 0, members `<phrase>|<hotel slug>` (see suggestionsOf). */
  suggest: string
}

export const RECENT_LIMIT = 10

export function visitorKeys(prefix = process.env.DEMO_REDIS_PREFIX ?? DEFAULT_REDIS_PREFIX): VisitorKeys {
  return {
    views: (hotelSlug) => `${prefix}:views:${hotelSlug}`,
    recent: (visitorId) => `${prefix}:recent:${visitorId}`,
    suggest: `${prefix}:suggest`,
  }
}

/** Lower case, accents and punctuation gone, single spaces: what a search box is compared with. */
export function searchText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .trim()
}

/**
 * A hotel's members of the suggest set: its name and its destination's name followed by its
 * name, each `<phrase>|<hotel slug>` ('gion house|kyoto-gion', 'kyoto gion house|kyoto-gion'),
 * so `ZRANGEBYLEX suggest [kyo "[kyo\xff"` finds it by either.
 */
export function suggestionsOf(hotel: { slug: string; name: string; destination_name: string }): string[] {
  const name = searchText(hotel.name)
  return [`${name}|${hotel.slug}`, `${searchText(hotel.destination_name)} ${name}|${hotel.slug}`]
}
