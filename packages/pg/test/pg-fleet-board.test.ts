import { afterEach, expect, it } from 'vitest'
import { pgStore } from '../src/index.ts'
import { adminPool, describeWithServer, randomSchema } from './pg-test-helpers.ts'

describeWithServer("a fleet's board in a pg store", (url) => {
  const schemas: string[] = []
  const closes: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const close of closes.splice(0)) await close().catch(() => {})
    for (const schema of schemas.splice(0)) await adminPool(url).query(`drop schema if exists "${schema}" cascade`)
  })
  const open = async () => {
    const schema = randomSchema()
    schemas.push(schema)
    const store = pgStore({ url, schema })
    await store.open({ leaseLikely: false })
    closes.push(() => store.close())
    return { schema, board: store.fleetBoard! }
  }
  const sorted = (members: string[]) => [...members].sort()

  it('gives the members marked at a head since a time, by the server clock; reading creates nothing', async () => {
    const { schema, board } = await open()
    const start = await board.read('tenants', 'h1', undefined)
    expect(start.members).toEqual([])
    expect(start.now).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
    expect(await board.read('tenants', 'h1', start.now)).toMatchObject({ members: [] })
    const { rows } = await adminPool(url).query(`select to_regnamespace($1) as made`, [`"${schema}"`])
    expect(rows).toEqual([{ made: null }])

    await board.mark('tenants', ['acme', 'globex'], 'h1')
    await board.mark('others', ['acme'], 'h1')
    const after = await board.read('tenants', 'h1', start.now)
    expect(sorted(after.members)).toEqual(['acme', 'globex'])
    // another head (the fleet's migrations changed), or marks older than the reader's start: not trusted
    expect((await board.read('tenants', 'h2', start.now)).members).toEqual([])
    expect((await board.read('tenants', 'h1', after.now)).members).toEqual([])
    // a member marked again at another head no longer counts at the first
    await board.mark('tenants', ['acme'], 'h2')
    expect((await board.read('tenants', 'h1', start.now)).members).toEqual(['globex'])
    expect((await board.read('tenants', 'h2', start.now)).members).toEqual(['acme'])
  })

  it('gives a member claimed by many runners at once to exactly one, on a board made by that first claim', async () => {
    const [{ board }, others] = [await open(), await Promise.all(Array.from({ length: 4 }, open))]
    const { now: since } = await board.read('tenants', 'h1', undefined)
    // one board (its pool) claimed by ten runners at once, for two members
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        board.claim!('tenants', index % 2 === 0 ? 'acme' : 'globex', 'h1', `runner-${index}`, since, 60_000),
      ),
    )
    expect(claims.filter((claim) => claim === 'mine')).toHaveLength(2)
    expect(claims.filter((claim) => claim === 'theirs')).toHaveLength(8)
    // the runner that has acme claims it again as it comes back to it
    const winner = claims.findIndex((claim, index) => index % 2 === 0 && claim === 'mine')
    expect(await board.claim!('tenants', 'acme', 'h1', `runner-${winner}`, since, 60_000)).toBe('mine')
    // another store's board is another table: its claims are its own
    expect(await others[0]!.board.claim!('tenants', 'acme', 'h1', 'runner-x', since, 60_000)).toBe('mine')
  })
})
