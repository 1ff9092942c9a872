// What release 3's data moves share: the rows as MongoDB documents, itineraries read from
// PostgreSQL with their stops, and two knobs for the kill test (DEMO_COPY_BATCH,
// DEMO_COPY_DELAY_MS: a pause before each batch is written, so a test can kill mid-copy).
import { setTimeout as sleep } from 'node:timers/promises'
import type { DataKey, DataSource, DataTarget } from '@flux/core'
import type { MongoStoreClient } from '@flux/mongo'
import { type PgClient, pgRows } from '@flux/pg'

export type ReviewRow = {
  id: number
  hotel_slug: string
  author: string
  rating: number
  body: string
  created_at: Date
}

export interface ReviewDocument {
  _id: number
  hotel: string
  author: string
  rating: number
  body: string
  createdAt: Date
}

export const toReviewDocument = (row: ReviewRow): ReviewDocument => ({
  _id: row.id,
  hotel: row.hotel_slug,
  author: row.author,
  rating: row.rating,
  body: row.body,
  createdAt: row.created_at,
})

export const toReviewRow = (document: ReviewDocument): ReviewRow => ({
  id: document._id,
  hotel_slug: document.hotel,
  author: document.author,
  rating: document.rating,
  body: document.body,
  created_at: document.createdAt,
})

export interface ItineraryDocument {
  _id: number
  destination: string
  title: string
  days: { day: number; stops: { title: string; note: string }[] }[]
}

/** pg's itineraries, each with its stops (one query per batch of itineraries), as documents. */
export function itineraryDocuments(catalog: PgClient): DataSource<ItineraryDocument> {
  const itineraries = pgRows<{ id: number; destination_slug: string; title: string }>(catalog, { table: 'itineraries' })
  return {
    describe: () => 'pg tables itineraries and itinerary_stops',
    keyOf: (document) => document._id,
    count: () => itineraries.count!(),
    keys: (batchSize) => itineraries.keys!(batchSize),
    async *read(after, batchSize) {
      for await (const rows of itineraries.read(after, batchSize)) {
        const { rows: stops } = await catalog.query<{ itinerary_id: number; day: number; title: string; note: string }>(
          'select itinerary_id, day, title, note from itinerary_stops where itinerary_id = any($1) order by itinerary_id, day, position',
          [rows.map((row) => row.id)],
        )
        const days = new Map<number, ItineraryDocument['days']>()
        for (const stop of stops) {
          const list = days.get(stop.itinerary_id) ?? []
          if (list.at(-1)?.day !== stop.day) list.push({ day: stop.day, stops: [] })
          list.at(-1)!.stops.push({ title: stop.title, note: stop.note })
          days.set(stop.itinerary_id, list)
        }
        yield rows.map((row) => ({
          _id: row.id,
          destination: row.destination_slug,
          title: row.title,
          days: days.get(row.id) ?? [],
        }))
      }
    },
  }
}

/** Writes itinerary documents back into pg's itineraries and itinerary_stops (stops numbered anew). */
export function itineraryTables(catalog: PgClient): DataTarget<ItineraryDocument> {
  const itineraries = pgRows(catalog, { table: 'itineraries' })
  const stops = pgRows(catalog, { table: 'itinerary_stops' })
  return {
    describe: () => 'pg tables itineraries and itinerary_stops',
    async write(documents) {
      await itineraries.write(
        documents.map((document) => ({
          id: document._id,
          destination_slug: document.destination,
          title: document.title,
        })),
      )
      await stops.write(
        documents.flatMap((document) =>
          document.days.flatMap((day) =>
            day.stops.map((stop, index) => ({
              id: document._id * 100 + day.day * 10 + index,
              itinerary_id: document._id,
              day: day.day,
              position: index + 1,
              title: stop.title,
              note: stop.note,
            })),
          ),
        ),
      )
    },
  }
}

/** Rows per batch of the moves: DEMO_COPY_BATCH, default 1,000. */
export const copyBatchSize = () => Number(process.env.DEMO_COPY_BATCH ?? 1_000)

/**
 * The source as it is, but counting what it reads and noting the first key read, so a resumed
 * copy can show (and the kill test assert) that it did not read the rows before its checkpoint.
 */
export function counted<Row>(
  source: DataSource<Row>,
): DataSource<Row> & { readonly read_: { rows: number; firstKey: DataKey | undefined } } {
  const stats = { rows: 0, firstKey: undefined as DataKey | undefined }
  return {
    ...source,
    read_: stats,
    async *read(after, batchSize) {
      for await (const rows of source.read(after, batchSize)) {
        if (stats.firstKey === undefined && rows.length > 0) stats.firstKey = source.keyOf(rows[0] as Row)
        stats.rows += rows.length
        yield rows
      }
    },
  }
}

/** The target as it is, after a pause of DEMO_COPY_DELAY_MS before each batch (0: none). */
export function paced<Row>(target: DataTarget<Row>): DataTarget<Row> {
  const delay = Number(process.env.DEMO_COPY_DELAY_MS ?? 0)
  if (!(delay > 0)) return target
  return {
    ...target,
    write: async (rows) => {
      await sleep(delay)
      await target.write(rows)
    },
  }
}

/** Drops a collection; one that is not there (a down() run again) is not an error. */
export async function dropCollection(store: MongoStoreClient, name: string): Promise<void> {
  const found = await store.db.listCollections({ name }).toArray()
  if (found.length > 0) await store.db.collection(name).drop()
}
