import { type ConformanceTest, STORE_NAME } from './conformance-harness.ts'
import { expect } from './vitest.ts'

const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/

/** `fleetBoard` (skipped unless the adapter keeps one): what the runners sharing a fleet rely on. */
export function fleetBoardTests(test: ConformanceTest): void {
  const settings = { requires: 'fleetBoard' } as const

  test(
    'a board gives the members marked at a head since a time, to every instance; other heads, fleets and older marks are left out',
    async ({ open }) => {
      const [writer, reader] = [await open(), await open()]
      const board = writer.fleetBoard!
      const start = await reader.fleetBoard!.read('tenants', 'head-1', undefined)
      expect(start.members).toEqual([])
      expect(start.now).toMatch(ISO_TIME)
      expect((await reader.fleetBoard!.read('tenants', 'head-1', start.now)).members).toEqual([])

      await board.mark('tenants', ['acme', 'globex'], 'head-1')
      await board.mark('sites', ['acme'], 'head-1')
      // one tick on a clock that counts milliseconds (PGlite's): a mark in the reader's own tick is since its time
      await new Promise((resolve) => setTimeout(resolve, 5))
      const after = await reader.fleetBoard!.read('tenants', 'head-1', start.now)
      expect([...after.members].sort()).toEqual(['acme', 'globex'])
      expect(after.now >= start.now).toBe(true)
      expect((await reader.fleetBoard!.read('tenants', 'head-2', start.now)).members).toEqual([])
      // marked before the reader's time: a runner that started after them does not trust them
      expect((await reader.fleetBoard!.read('tenants', 'head-1', after.now)).members).toEqual([])
      // marked again at another head: it counts at that one only
      await board.mark('tenants', ['acme'], 'head-2')
      expect((await reader.fleetBoard!.read('tenants', 'head-1', start.now)).members).toEqual(['globex'])
      expect((await reader.fleetBoard!.read('tenants', 'head-2', start.now)).members).toEqual(['acme'])
    },
    settings,
  )

  test(
    'a board is kept apart from the ledger, and takes no lease',
    async ({ open }) => {
      const adapter = await open()
      await adapter.fleetBoard!.mark('tenants', ['acme'], 'head-1')
      expect(await adapter.ledger.read()).toEqual([])
      expect(await adapter.inspectLease()).toBeUndefined()
      // nor does it wait for one: a runner marks members while another holds the store's lease
      const other = await open()
      const holder = { host: 'conformance.invalid', pid: 1, runId: 'board', since: new Date().toISOString() }
      const lease = await other.acquire({ store: STORE_NAME, ttlMs: 30_000, waitMs: 0, holder })
      try {
        await adapter.fleetBoard!.mark('tenants', ['globex'], 'head-1')
      } finally {
        await lease.release()
      }
    },
    settings,
  )

  test(
    "a claim is one runner's until it is marked or grows older than the reader allows; marks since the reader's time show",
    async ({ open }) => {
      const [one, two] = [await open(), await open()]
      const [first, second] = [one.fleetBoard!, two.fleetBoard!]
      if (!first.claim || !second.claim) return
      const { now: since } = await first.read('tenants', 'head-1', undefined)
      const ttl = 60_000
      expect(await first.claim('tenants', 'acme', 'head-1', 'runner-1', since, ttl)).toBe('mine')
      // another runner goes elsewhere; the claimant may claim again (a member it comes back to)
      expect(await second.claim('tenants', 'acme', 'head-1', 'runner-2', since, ttl)).toBe('theirs')
      expect(await first.claim('tenants', 'acme', 'head-1', 'runner-1', since, ttl)).toBe('mine')
      // another member, another fleet: free
      expect(await second.claim('tenants', 'globex', 'head-1', 'runner-2', since, ttl)).toBe('mine')
      expect(await second.claim('sites', 'acme', 'head-1', 'runner-2', since, ttl)).toBe('mine')
      // a claim older than the reader allows (a runner that died) is taken over
      await new Promise((resolve) => setTimeout(resolve, 20))
      expect(await second.claim('tenants', 'acme', 'head-1', 'runner-2', since, 1)).toBe('mine')
      expect(await first.claim('tenants', 'acme', 'head-1', 'runner-1', since, ttl)).toBe('theirs')

      // marked at the head: no one claims it; nor is it read as marked while claimed
      await second.mark('tenants', ['acme'], 'head-1')
      expect(await first.claim('tenants', 'acme', 'head-1', 'runner-1', since, ttl)).toBe('marked')
      expect((await first.read('tenants', 'head-1', since)).members).toEqual(['acme'])
      expect((await first.read('tenants', 'head-1', since)).members).not.toContain('globex')
      // at another head, or marked before the reader's time: claimed as any member
      expect(await first.claim('tenants', 'acme', 'head-2', 'runner-1', since, ttl)).toBe('mine')
      await first.mark('tenants', ['initech'], 'head-1')
      // a store's clock may tick in milliseconds (PGlite's does): a mark in the reader's own tick
      // counts as since its time, so the reader looks one tick later
      await new Promise((resolve) => setTimeout(resolve, 5))
      const { now: later } = await first.read('tenants', 'head-1', undefined)
      expect(await second.claim('tenants', 'initech', 'head-1', 'runner-2', later, ttl)).toBe('mine')
    },
    settings,
  )
}
