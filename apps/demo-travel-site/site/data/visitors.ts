import type { RedisClient } from '@flux/redis'
import { RECENT_LIMIT, searchText, visitorKeys } from '../../story/visitor-keys.ts'

/** How many search suggestions are shown. */
export const SUGGESTION_LIMIT = 8

/** One search suggestion: a member of `<prefix>:suggest`, `'<phrase>|<hotel slug>'`. */
export interface Suggestion {
  term: string
  slug: string
}

/**
 * Visitor behaviour in Redis (release 2): `<prefix>:views:<hotel>` counters,
 * `<prefix>:recent:<visitor>` lists of hotel slugs (newest first) and the `<prefix>:suggest`
 * sorted set read with ZRANGEBYLEX. Before release 2 the keys are simply absent.
 */
export function visitorsOf(client: RedisClient, prefix: string) {
  const { redis } = client
  const { views, recent, suggest } = visitorKeys(prefix)
  return {
    views: async (hotel: string) => Number((await redis.get(views(hotel))) ?? 0),
    viewsOf: async (hotels: string[]): Promise<Map<string, number>> => {
      if (hotels.length === 0) return new Map()
      const counts = await redis.mget(hotels.map(views))
      return new Map(hotels.map((hotel, index) => [hotel, Number(counts[index] ?? 0)]))
    },
    /** Counts a visit of `hotel` by `visitor` and puts it first in their recently viewed; resolves the new count. */
    async visit(hotel: string, visitor: string): Promise<number> {
      const results = await redis
        .multi()
        .incr(views(hotel))
        .lrem(recent(visitor), 0, hotel)
        .lpush(recent(visitor), hotel)
        .ltrim(recent(visitor), 0, RECENT_LIMIT - 1)
        .exec()
      const [error, count] = results?.[0] ?? [new Error('the visit was not counted: the transaction was aborted')]
      if (error) throw error
      return Number(count)
    },
    recent: (visitor: string) => redis.lrange(recent(visitor), 0, RECENT_LIMIT - 1),
    async suggest(query: string, limit = SUGGESTION_LIMIT): Promise<Suggestion[]> {
      // compared as the release 2 migration stored the phrases
      const term = searchText(query)
      if (term === '') return []
      // every member whose text starts with the term: [term, [term\xff
      const members = await redis.zrangebylex(suggest, `[${term}`, `[${term}\xff`, 'LIMIT', 0, limit * 4)
      const seen = new Set<string>()
      const suggestions: Suggestion[] = []
      for (const member of members) {
        const separator = member.lastIndexOf('|')
        const slug = member.slice(separator + 1)
        if (separator < 0 || seen.has(slug)) continue
        seen.add(slug)
        suggestions.push({ term: member.slice(0, separator), slug })
        if (suggestions.length === limit) break
      }
      return suggestions
    },
  }
}

export type Visitors = ReturnType<typeof visitorsOf>
