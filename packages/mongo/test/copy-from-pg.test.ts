import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FluxError, verifyCopy } from '@flux/core'
import { afterAll, expect, it } from 'vitest'
import { readmeExample } from '../../core/test/readme-blocks.ts'
import { type PgClient, pgRows } from '../../pg/src/index.ts'
import { adminPool, randomSchema } from '../../pg/test/pg-test-helpers.ts'
import { type MongoStoreClient, mongoDocuments, mongoStore } from '../src/index.ts'
import { finish, flux, start, statusOf, TMP, waitFor } from './cli-helpers.ts'
import { describeWithServer, freshDatabase } from './mongo-test-helpers.ts'

/** Rows of the README run; the kill and verify cases use fewer, as FerretDB scans whole collections. */
const ROWS = 20_000
const SMALL = 6_000
const ID = 'app/20260301000000_copy_reviews'
const PG_URL = process.env.FLUX_TEST_PG_URL

/** The README's pg → mongo example, as a user pastes it. */
export const COPY_REVIEWS = readmeExample('// migrations/20260301000000_copy_reviews.ts')

/**
 * The same copy, with its source wrapped to log where each read starts and every row it
 * reads (to reads.log, outside both stores), and 50 ms per batch, so a test can kill it half-way.
 */
const COPY_REVIEWS_LOGGED = COPY_REVIEWS.replace(
  "import { copy, defineMigration, verifyCopy } from '@flux/core'",
  `import { appendFileSync } from 'node:fs'
import { setTimeout as sleep } from 'node:timers/promises'
import { copy, defineMigration, verifyCopy } from '@flux/core'`,
).replace(
  "    const from = pgRows(ctx.stores.main, { table: 'review', key: 'id' })",
  `    const rows = pgRows(ctx.stores.main, { table: 'review', key: 'id' })
    const from = {
      ...rows,
      async *read(after, batchSize) {
        appendFileSync('reads.log', \`start \${JSON.stringify(after ?? null)}\\n\`)
        for await (const batch of rows.read(after, batchSize)) {
          appendFileSync('reads.log', batch.map((row) => \`row \${row.id}\\n\`).join(''))
          await sleep(50)
          yield batch
        }
      },
    }`,
)

const projects: string[] = []
afterAll(async () => {
  for (const dir of projects.splice(0)) await rm(dir, { recursive: true, force: true })
})

/** A project with a pg store `main` (its tables in a fresh schema) and a mongo store `reviews` (a fresh database). */
async function copyProject(url: string, migration: string, rows = ROWS) {
  const schema = randomSchema()
  const pool = adminPool(PG_URL!)
  await pool.query(`create schema ${schema}`)
  await pool.query(`create table ${schema}.review (id int primary key, hotel_id int not null, stars int, body text)`)
  await pool.query(
    `insert into ${schema}.review select n, n % 97, n % 5, 'review ' || n from generate_series(1, ${rows}) as n`,
  )
  const database = await freshDatabase(url)
  const dir = join(TMP, `project-${randomBytes(6).toString('hex')}`)
  projects.push(dir)
  await mkdir(join(dir, 'migrations'), { recursive: true })
  // the schema comes first in the search path, so the example's unqualified `review` is this schema's
  const pgUrl = `${PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { mongoStore } from '@flux/mongo'
import { pgStore } from '@flux/pg'
export default defineConfig({
  stores: {
    main: pgStore({ url: ${JSON.stringify(pgUrl)}, schema: ${JSON.stringify(schema)} }),
    reviews: mongoStore({ url: ${JSON.stringify(url)}, database: ${JSON.stringify(database.name)} }),
  },
  migrations: './migrations',
})
`,
  )
  await writeFile(join(dir, 'migrations', '20260301000000_copy_reviews.ts'), migration)
  const cleanup = async () => {
    await pool.query(`drop schema ${schema} cascade`)
    await database.drop()
  }
  return { dir, schema, db: database.db, name: database.name, cleanup }
}

describeWithServer('copying 20,000 rows from a pg table to a mongo collection', (url) => {
  it.skipIf(!PG_URL)(
    'the README example copies every row in `flux up`, with progress',
    async () => {
      const { dir, db, cleanup } = await copyProject(url, COPY_REVIEWS)
      try {
        const up = await flux(['up'], dir)
        expect(up.code, up.stderr).toBe(0)
        expect(await statusOf(dir)).toEqual([[ID, 'applied']])
        expect(await db.collection('reviews').countDocuments()).toBe(ROWS)
        expect(await db.collection('reviews').findOne({ _id: 1234 as never })).toEqual({
          _id: 1234,
          hotel: 1234 % 97,
          stars: 1234 % 5,
          text: 'review 1234',
        })
        // progress fed by the copy: plain lines off a terminal, up to the total
        expect(up.stderr).toContain(`${ID}: 20,000/20,000 (100%)`)
      } finally {
        await cleanup()
      }
    },
    180_000,
  )

  it.skipIf(!PG_URL)(
    'killed with SIGKILL half-way, resumes after its checkpoint without reading earlier rows again, and ends with each row once',
    async () => {
      const { dir, db, name, cleanup } = await copyProject(url, COPY_REVIEWS_LOGGED, SMALL)
      const ledger = mongoStore({ url, database: name })
      try {
        const first = start(['up'], dir)
        const firstRun = finish(first)
        const documents = db.collection('reviews')
        const readSoFar = async () =>
          (await readFile(join(dir, 'reads.log'), 'utf8').catch(() => ''))
            .split('\n')
            .filter((line) => line.startsWith('row ')).length
        await waitFor(async () => (await readSoFar()) >= SMALL / 2, 'the copy to pass half-way', 120_000)
        first.kill('SIGKILL')
        expect((await firstRun).signal).toBe('SIGKILL')

        await ledger.open()
        const entry = (await ledger.ledger.read()).find((row) => row.id === ID)
        const checkpoint = entry?.checkpoint as { after: number; read: number }
        expect(entry?.status).toBe('running')
        expect(checkpoint.after).toBeGreaterThan(0)
        expect(checkpoint.after).toBeLessThan(SMALL)
        // every checkpointed row is in mongo; a batch written but not yet checkpointed may be too
        expect(await documents.countDocuments({ _id: { $lte: checkpoint.after } as never })).toBe(checkpoint.after)
        const firstLog = (await readFile(join(dir, 'reads.log'), 'utf8')).split('\n').filter(Boolean)

        const second = await flux(['up'], dir)
        expect(second.code, second.stderr).toBe(0)
        expect(await statusOf(dir)).toEqual([[ID, 'applied']])

        const secondLog = (await readFile(join(dir, 'reads.log'), 'utf8'))
          .split('\n')
          .filter(Boolean)
          .slice(firstLog.length)
        // the resumed read starts after the checkpoint, and reads only the rows after it, once each
        expect(secondLog[0]).toBe(`start ${checkpoint.after}`)
        const readAgain = secondLog.filter((line) => line.startsWith('row ')).map((line) => Number(line.slice(4)))
        expect(readAgain.length).toBe(SMALL - checkpoint.after)
        expect(Math.min(...readAgain)).toBe(checkpoint.after + 1)
        // the migration's own verifyCopy passed; and no row is there twice
        expect(await documents.countDocuments()).toBe(SMALL)
      } finally {
        await ledger.close()
        await cleanup()
      }
    },
    240_000,
  )

  it.skipIf(!PG_URL)(
    'verifyCopy names a missing and an extra document; a batch written twice leaves one document and one row per key',
    async () => {
      const { dir, db, schema, cleanup } = await copyProject(url, COPY_REVIEWS, SMALL)
      try {
        expect((await flux(['up'], dir)).code).toBe(0)
        // a pg Pool answers `query` as the store's client does
        const from = pgRows(adminPool(PG_URL!) as unknown as PgClient, { table: `${schema}.review` })
        const to = mongoDocuments({ db, session: undefined } as MongoStoreClient, 'reviews')
        expect((await verifyCopy({ from, to, checksum: true })).ok).toBe(true)

        // the same batch written again: an upsert, not a second copy
        const batch = (await db
          .collection('reviews')
          .find({ _id: { $lte: 500 } as never })
          .toArray()) as never[]
        await to.write(batch)
        await to.write(batch)
        expect(await db.collection('reviews').countDocuments()).toBe(SMALL)
        const rows = (await adminPool(PG_URL!).query(`select * from ${schema}.review where id <= 500`)).rows
        await from.write(rows.map((row) => ({ ...row, body: `${row.body} (again)` })))
        expect((await adminPool(PG_URL!).query(`select count(*)::int as n from ${schema}.review`)).rows[0].n).toBe(
          SMALL,
        )
        expect((await adminPool(PG_URL!).query(`select body from ${schema}.review where id = 7`)).rows[0].body).toBe(
          'review 7 (again)',
        )

        await db.collection('reviews').deleteOne({ _id: 4321 as never })
        await db.collection('reviews').insertOne({ _id: 99_999 as never, text: 'stray' })
        const error = await verifyCopy({ from, to, checksum: true }).catch((caught: unknown) => caught)
        expect(FluxError.is(error) && error.code).toBe('INTEGRITY')
        expect((error as Error).message).toBe(
          `the copy does not match its source: pg table ${schema}.review has 6000 rows, mongo collection reviews has 6000; missing from the target: 4321; extra in the target: 99999`,
        )
      } finally {
        await cleanup()
      }
    },
    180_000,
  )
})
