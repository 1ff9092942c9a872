import { readFile } from 'node:fs/promises'
import { isDeepStrictEqual } from 'node:util'
import type { Document } from 'mongodb'
import { expect, it } from 'vitest'
import { flux, project, statusOf } from './cli-helpers.ts'
import { describeWithServer, freshDatabase } from './mongo-test-helpers.ts'

const REVIEWS = 100_000
const MIGRATION = 'app/20260101000000_split-author'

/** Review n as seeded: `author` is "Name#id"; every 1,000th name itself holds a `#`. */
function review(n: number): Document {
  const name = n % 1_000 === 0 ? `Fan #${n} of it` : `Reviewer ${n % 977}`
  return { n, author: `${name}#u${n}`, stars: n % 5, text: `review ${n}` }
}

describeWithServer('a migration that restructures 100,000 reviews', (url) => {
  it('splits author into { name, id } in batches with progress, and down restores every document', async () => {
    const { name, db, drop } = await freshDatabase(url)
    try {
      const seeded = Array.from({ length: REVIEWS }, (_, n) => review(n))
      for (let start = 0; start < REVIEWS; start += 10_000) {
        await db.collection('reviews').insertMany(seeded.slice(start, start + 10_000))
      }
      await db.collection('reviews').createIndex({ n: 1 }, { unique: true })
      const dir = await project(`mongoStore({ url: ${JSON.stringify(url)}, database: ${JSON.stringify(name)} })`, {
        '20260101000000_split-author.ts': await readFile(new URL('fixtures/split-author.ts', import.meta.url), 'utf8'),
      })
      const all = () =>
        db
          .collection('reviews')
          .find({}, { sort: { n: 1 } })
          .toArray()

      const up = await flux(['up'], dir)
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain(`applied  ${MIGRATION}`)
      // progress, as plain lines when not on a terminal: counted by batch up to the total
      const progress = up.stderr.split('\n').filter((line) => line.startsWith(`${MIGRATION}: `))
      expect(progress.length).toBeGreaterThan(1)
      expect(progress.at(-1)).toMatch(new RegExp(`^${MIGRATION}: 100,000/100,000 \\(100%\\) [\\d,]+/s$`))

      const split = await all()
      expect(split).toHaveLength(REVIEWS)
      const wrong = split.filter((document, n) => {
        const { author, ...rest } = seeded[n]!
        const at = (author as string).lastIndexOf('#')
        const expected = { ...rest, author: { name: author.slice(0, at), id: author.slice(at + 1) } }
        return !isDeepStrictEqual(document, expected)
      })
      expect(wrong.slice(0, 3)).toEqual([])
      expect(split[1_000]!.author).toEqual({ name: 'Fan #1000 of it', id: 'u1000' })
      const collections = (await db.listCollections({}, { nameOnly: true }).toArray()).map((info) => info.name)
      expect(collections.sort()).toEqual(['flux_ledger', 'flux_lock', 'reviews'])
      // the copy kept the collection's own index
      expect((await db.collection('reviews').indexes()).map((index) => index.name).sort()).toEqual(['_id_', 'n_1'])

      const down = await flux(['down', '--steps', '1'], dir)
      expect(down.code, down.stderr).toBe(0)
      const restored = await all()
      expect(restored).toHaveLength(REVIEWS)
      const changed = restored.filter((document, n) => !isDeepStrictEqual(document, seeded[n]))
      expect(changed.slice(0, 3)).toEqual([])
      expect(await statusOf(dir)).toEqual([[MIGRATION, 'pending']])
    } finally {
      await drop()
    }
  }, 180_000)
})
