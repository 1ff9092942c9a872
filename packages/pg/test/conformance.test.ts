import { PGlite } from '@electric-sql/pglite'
import { describeAdapterConformance } from '@flux/core/testing'
import { afterAll } from 'vitest'
import { pgStore } from '../src/index.ts'
import {
  describeWithServer,
  PASSWORD,
  randomSchema,
  schemaContents,
  serverStore,
  UNREACHABLE_URL,
} from './pg-test-helpers.ts'

describeWithServer('PostgreSQL server', (url) => {
  describeAdapterConformance('pg', {
    setup: async () => serverStore(url, (schema) => () => pgStore({ url, schema })),
    secrets: [PASSWORD],
    unreachable: () => pgStore({ url: UNREACHABLE_URL }),
  })
})

// one in-memory PGlite for the file (starting one takes a second); a fresh schema per test
let pglite: Promise<PGlite> | undefined
afterAll(async () => (await pglite)?.close())

describeAdapterConformance('pg on PGlite', {
  async setup() {
    pglite ??= PGlite.create()
    const db = await pglite
    const schema = randomSchema()
    return {
      create: () => pgStore({ pglite: db, schema }),
      cleanup: async () => {
        await db.exec(`drop schema if exists "${schema}" cascade`)
      },
      contents: () => schemaContents(db, schema),
    }
  },
  // a data directory that is a file
  unreachable: () => pgStore({ pglite: new URL(import.meta.url).pathname }),
})
