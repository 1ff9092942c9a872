import { FluxError, type LedgerEntry } from '@flux/core'
import { MongoClient } from 'mongodb'
import { afterEach, expect, it } from 'vitest'
import { mongoStore } from '../src/index.ts'
import { SEQUENCE_ID } from '../src/mongo-ledger.ts'
import { adminClient, databaseContents, describeWithServer, freshDatabase, PASSWORD } from './mongo-test-helpers.ts'

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function database(url: string) {
  const fresh = await freshDatabase(url)
  cleanups.push(fresh.drop)
  return fresh
}

async function opened(url: string, name: string, extra = {}) {
  const adapter = mongoStore({ url, database: name, ...extra })
  await adapter.open()
  cleanups.push(() => adapter.close())
  return adapter
}

async function rejection(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  )
  if (!FluxError.is(error)) throw error
  return error
}

const entry = (id: string, extra: Partial<LedgerEntry> = {}): LedgerEntry => ({
  id,
  checksum: 'sha256:00',
  status: 'applied',
  appliedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 1,
  runId: 'r',
  fluxVersion: '0.1.0',
  ...extra,
})

describeWithServer('mongoStore', (url) => {
  const { hostname: host, port } = new URL(url)

  it('describe() shows hosts and database, never the user or password', () => {
    const adapter = mongoStore({
      url: `mongodb://flux:${PASSWORD}@db.example:27017,db2.example:27018/app?authSource=admin`,
    })
    expect(adapter.describe()).toBe('mongo db.example:27017,db2.example:27018/app')
    // a password that was not percent-encoded stays hidden too
    expect(mongoStore({ url: 'mongodb://u:pa@s/s?w@127.0.0.1:27017/app' }).describe()).toBe('mongo 127.0.0.1:27017/app')
    expect(mongoStore({ url: 'mongodb+srv://u:p@cluster0.example.net/', database: 'x' }).describe()).toBe(
      'mongo cluster0.example.net (srv)/x',
    )
  })

  it('bad options fail with CONFIG_INVALID when the config is loaded', () => {
    const code = (call: () => unknown) => {
      try {
        call()
      } catch (error) {
        return FluxError.is(error) ? `${error.code}: ${error.message}` : String(error)
      }
      return 'no error'
    }
    expect(code(() => mongoStore({ url: 'postgres://x/y' }))).toMatch(/^CONFIG_INVALID: .*not a MongoDB/)
    expect(code(() => mongoStore({ url: 'mongodb://127.0.0.1/' }))).toMatch(/^CONFIG_INVALID: .*needs a database/)
    expect(code(() => mongoStore({ url: 'mongodb://127.0.0.1/', database: 'a.b' }))).toMatch(/invalid database/)
    expect(code(() => mongoStore({ url, database: 'x', ledgerCollection: 'system.x' }))).toMatch(/ledgerCollection/)
  })

  it('authentication failure: STORE_UNAVAILABLE naming the target, without the password', async () => {
    // FerretDB (sqlite) refuses the driver's default SCRAM mechanism with AuthenticationFailed, as a
    // MongoDB server refuses a wrong password
    const adapter = mongoStore({ url: `mongodb://flux:${PASSWORD}@${host}:${port}/app` })
    const error = await rejection(adapter.open())
    expect(error.code).toBe('STORE_UNAVAILABLE')
    expect(error.message).toContain(`authentication failed for mongo ${host}:${port}/app`)
    expect(JSON.stringify(error) + error.stack + String((error.cause as Error).stack)).not.toContain(PASSWORD)
    await adapter.close()
  })

  it('an unknown database is a new store by default; with mustExist it fails naming it', async () => {
    const { name, db } = await database(url)
    const adapter = await opened(url, name)
    expect(await adapter.ledger.read()).toEqual([])
    expect(await databaseContents(db)).toEqual([])
    const strict = mongoStore({ url, database: name, mustExist: true })
    const error = await rejection(strict.open())
    expect(error.code).toBe('STORE_UNAVAILABLE')
    expect(error.message).toBe(`database ${name} does not exist on mongo ${host}:${port}/${name}`)
    await adapter.ledger.record(entry('app/first'))
    await strict.open()
    await strict.close()
  })

  it("the user's own client is used and never closed", async () => {
    const { name } = await database(url)
    const client = new MongoClient(url)
    cleanups.push(() => client.close())
    const adapter = mongoStore({ client, database: name })
    expect(adapter.describe()).toBe(`mongo ${host}:${port}/${name}`)
    await adapter.open()
    await adapter.ledger.record(entry('app/one'))
    expect(adapter.client().client).toBe(client)
    await adapter.close()
    expect(
      await client
        .db(name)
        .collection('flux_ledger')
        .countDocuments({ _id: { $ne: SEQUENCE_ID } } as never),
    ).toBe(1)
  })

  it('transactions are detected from hello at open(): FerretDB is neither a replica set nor sharded', async () => {
    const { name } = await database(url)
    const adapter = await opened(url, name)
    expect(adapter.capabilities?.transactions).toBe(false)
    expect(adapter.client().session).toBeUndefined()
    const declared = mongoStore({ url, database: name, transactions: true })
    expect(declared.capabilities?.transactions).toBe(true)
    const error = await rejection(declared.open())
    expect(error.code).toBe('CONFIG_INVALID')
    expect(error.message).toContain('has no transactions')
  })

  it('the ledger is a log of plain documents: read() folds its events and hides the counter', async () => {
    const { name, db } = await database(url)
    const adapter = await opened(url, name)
    await adapter.ledger.record(entry('app/b', { status: 'running', checkpoint: { page: 2 } }))
    await adapter.ledger.record(entry('app/a'))
    await adapter.ledger.record(entry('app/b'))
    await adapter.ledger.record(entry('app/c'))
    await adapter.ledger.remove('app/c')
    const documents = await db
      .collection('flux_ledger')
      .find({}, { sort: { seq: 1 } })
      .toArray()
    expect(documents).toEqual([
      { _id: SEQUENCE_ID, value: 5 },
      { _id: '#1', seq: 1, ...entry('app/b', { status: 'running', checkpoint: { page: 2 } }) },
      { _id: '#2', seq: 2, ...entry('app/a') },
      { _id: '#3', seq: 3, ...entry('app/b') },
      { _id: '#4', seq: 4, ...entry('app/c') },
      { _id: '#5', seq: 5, id: 'app/c', removed: true },
    ])
    // an entry keeps the place of its first record; its latest replaces it whole (no checkpoint)
    expect(await adapter.ledger.read()).toEqual([entry('app/b'), entry('app/a')])
  })

  it('a ledger that an earlier version wrote in place reads as before, and events replace its entries', async () => {
    const { name, db } = await database(url)
    // one document per entry, updated in place, with placeholders and the markers of its fencing
    await db.collection('flux_ledger').insertMany([
      { _id: SEQUENCE_ID, value: 3 },
      { _id: 'app/old', seq: 2, ...entry('app/old', { runId: 'r-old' }), fence: '4:app/old' },
      { _id: 'app/first', seq: 1, ...entry('app/first') },
      { _id: 'app/gone', placeholder: true, fence: '4:app/gone' },
      { _id: '#fence 3:app/racing', placeholder: true, fence: '3:app/racing' },
      { _id: 'app/kept', seq: 3, ...entry('app/kept') },
    ] as never[])
    const adapter = await opened(url, name)
    expect((await adapter.ledger.read()).map((read) => read.id)).toEqual(['app/first', 'app/old', 'app/kept'])
    await adapter.ledger.record(entry('app/old', { runId: 'r-new' }))
    await adapter.ledger.remove('app/kept')
    await adapter.ledger.record(entry('app/gone'))
    expect(await adapter.ledger.read()).toEqual([
      entry('app/first'),
      entry('app/old', { runId: 'r-new' }),
      entry('app/gone'),
    ])
  })

  it('under a lease, a chain of steps writes its ledger with one insert per step: no update, no lookup', async () => {
    // FerretDB (1.x, SQLite) scans the collection for an update or a find by _id: a step's cost
    // would grow with the ledger's length
    const { name } = await database(url)
    const client = new MongoClient(url, { monitorCommands: true })
    cleanups.push(() => client.close())
    const adapter = mongoStore({ client, database: name })
    await adapter.open()
    cleanups.push(() => adapter.close())
    const holder = { host: 'test', pid: 1, runId: 'r', since: '2026-01-01T00:00:00.000Z' }
    const lease = await adapter.acquire({ store: 'main', ttlMs: 30_000, waitMs: 0, holder })
    cleanups.push(() => lease.release())
    const sent: string[] = []
    client.on('commandStarted', (event) => {
      const target = event.command[event.commandName]
      if (typeof target === 'string') sent.push(`${event.commandName} ${target}`)
    })
    const ids = Array.from({ length: 40 }, (_, index) => `app/m${String(index).padStart(2, '0')}`)
    await adapter.ledger.record(entry(ids[0]!, { status: 'running' }))
    for (const [index, id] of ids.entries()) {
      const next = ids[index + 1]
      await adapter.ledger.write!([
        { record: entry(id) },
        ...(next ? [{ record: entry(next, { status: 'running' }) }] : []),
      ])
    }
    const count = (command: string) => sent.filter((each) => each === command).length
    expect(count('insert flux_ledger')).toBe(41)
    // one block of numbers for the 80 events: taken from the counter, and named in the lease document
    expect(count('findAndModify flux_ledger')).toBe(1)
    expect(count('update flux_lock')).toBe(1)
    expect(sent.filter((each) => /^(update|find|delete) flux_ledger/.test(each))).toEqual([])
    expect((await adapter.ledger.read()).map((read) => `${read.id}:${read.status}`)).toEqual(
      ids.map((id) => `${id}:applied`),
    )
  })

  it('under a lease, events take their numbers 100 at a time, in order across leases and blocks', async () => {
    const { name, db } = await database(url)
    const adapter = await opened(url, name)
    const holder = { host: 'test', pid: 1, runId: 'r', since: '2026-01-01T00:00:00.000Z' }
    const take = () => adapter.acquire({ store: 'main', ttlMs: 30_000, waitMs: 0, holder })
    const ids = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, index) => `app/m${String(from + index).padStart(3, '0')}`)
    const counter = async () => (await db.collection('flux_ledger').findOne({ _id: SEQUENCE_ID as never }))?.value

    let lease = await take()
    // running then applied, as core writes them: 204 events
    for (const id of ids(0, 102).reverse()) {
      await adapter.ledger.record(entry(id, { status: 'running' }))
      await adapter.ledger.record(entry(id))
    }
    // three blocks from the counter, not 204 numbers
    expect(await counter()).toBe(300)
    await lease.release()
    lease = await take()
    await adapter.ledger.record(entry('app/after'))
    await lease.release()
    // without a lease, one number at a time, after every block
    await adapter.ledger.record(entry('app/unleased'))
    expect(await counter()).toBe(401)

    expect((await adapter.ledger.read()).map((read) => read.id)).toEqual([
      ...ids(0, 102).reverse(),
      'app/after',
      'app/unleased',
    ])
  })

  it('ensureIndexes creates, keeps, and changes indexes whose options differ', async () => {
    const { name, db } = await database(url)
    const store = (await opened(url, name)).client()
    const reviews = [{ key: { 'author.id': 1 } }, { key: { slug: 1 }, unique: true, name: 'slug_unique' }] as const
    expect(await store.ensureIndexes('reviews', [...reviews])).toEqual({
      created: ['author.id_1', 'slug_unique'],
      dropped: [],
      unchanged: [],
    })
    expect(await store.ensureIndexes('reviews', [...reviews])).toEqual({
      created: [],
      dropped: [],
      unchanged: ['author.id_1', 'slug_unique'],
    })
    expect(await store.ensureIndexes('reviews', [{ key: { 'author.id': 1 }, unique: true }])).toEqual({
      created: ['author.id_1'],
      dropped: ['author.id_1'],
      unchanged: [],
    })
    const indexes = await db.collection('reviews').listIndexes().toArray()
    const shown = indexes.map(({ name: index, key, unique }) => ({ index, key, unique }))
    expect(shown.sort((a, b) => a.index.localeCompare(b.index))).toEqual([
      { index: '_id_', key: { _id: 1 }, unique: undefined },
      { index: 'author.id_1', key: { 'author.id': 1 }, unique: true },
      { index: 'slug_unique', key: { slug: 1 }, unique: true },
    ])
    // an index made by hand under its own name is the same index
    await db.collection('reviews').createIndex({ lang: 1 }, { name: 'by_lang' })
    expect(await store.ensureIndexes('reviews', [{ key: { lang: 1 } }])).toEqual({
      created: [],
      dropped: [],
      unchanged: ['by_lang'],
    })
    await db.collection('reviews').insertOne({ slug: 'a', author: { id: 1 } })
    await expect(db.collection('reviews').insertOne({ slug: 'b', author: { id: 1 } })).rejects.toThrow(/duplicate key/)
  })

  it('renameField renames across the collection in batches, with progress, and resumes', async () => {
    // kept small: FerretDB rewrites its collection's documents for each one it updates
    const { name, db } = await database(url)
    const store = (await opened(url, name)).client()
    const reviews = db.collection('reviews')
    await reviews.insertMany(
      Array.from({ length: 600 }, (_, index) => ({ n: index, stars: index % 5, lang: index % 2 ? 'en' : 'fr' })),
    )
    // _ids of other types sort before ObjectIds (numbers, then strings): a batch never spans two types
    await reviews.insertMany([
      { _id: 'text-id', n: 600, stars: 0, lang: 'en' } as never,
      { _id: 7, n: 601, stars: 1, lang: 'en' } as never,
    ])
    const progress: [number, number][] = []
    const renamed = await store.renameField('reviews', 'stars', 'rating', {
      batch: 200,
      filter: { lang: 'en' },
      onProgress: (done, total) => progress.push([done, total]),
    })
    expect(renamed).toBe(302)
    expect(progress).toEqual([
      [1, 302],
      [2, 302],
      [202, 302],
      [302, 302],
    ])
    expect(await reviews.countDocuments({ lang: 'en', rating: { $exists: true }, stars: { $exists: false } })).toBe(302)
    expect(await reviews.countDocuments({ lang: 'fr', stars: { $exists: true }, rating: { $exists: false } })).toBe(300)
    // the rest, as after an interrupted run: only what is left is renamed, values unchanged
    expect(await store.renameField('reviews', 'stars', 'rating', { batch: 120 })).toBe(300)
    const all = await reviews.find({}, { projection: { _id: 0 }, sort: { n: 1 } }).toArray()
    expect(all).toHaveLength(602)
    expect(all.every((review) => review.rating === review.n % 5 && !('stars' in review))).toBe(true)
    const error = await rejection(store.renameField('reviews', 'author', 'author.name'))
    expect(error.message).toContain('cannot rename "author" to "author.name"')
  })

  it('setValidator sets a $jsonSchema validator, or says clearly that the server lacks it', async () => {
    const { name, db } = await database(url)
    const store = (await opened(url, name)).client()
    const buildInfo = await (await adminClient(url)).db('admin').command({ buildInfo: 1 })
    const schema = { bsonType: 'object', required: ['author'], properties: { author: { bsonType: 'object' } } }
    if (typeof buildInfo.ferretdbVersion === 'string') {
      // FerretDB 1.x implements neither collMod nor create with a validator
      const error = await rejection(store.setValidator('reviews', schema))
      expect(error.code).toBe('STORE_ERROR')
      expect(error.message).toContain(`could not set the validator of reviews in mongo ${host}:${port}/${name}`)
      expect(error.hint).toContain('does not implement')
      return
    }
    await store.setValidator('reviews', schema)
    await expect(db.collection('reviews').insertOne({ author: 'text' })).rejects.toThrow(/validation/)
    await store.setValidator('reviews', null)
    await db.collection('reviews').insertOne({ author: 'text' })
  })
})
