import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { PgClient } from '@flux/pg'
import { type Photo, photosOf } from '@travel/images'
import type { PhotoStore } from '../site-stores.ts'

export type { Photo }

const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  gif: 'image/gif',
}

const UNDEFINED_TABLE = '42P01'

/**
 * What the site reads of the images component's metadata (`image_photos`, in its `meta`
 * role's pg store): the component's own `photosOf`, and beyond it many owners' covers in one
 * query, and one key. A table that does not exist yet reads as empty.
 */
export function photoMetaOf(client: PgClient) {
  const orNone = async (read: () => Promise<Photo[]>): Promise<Photo[]> => {
    try {
      return await read()
    } catch (error) {
      if ((error as { code?: unknown }).code === UNDEFINED_TABLE) return []
      throw error
    }
  }
  const rows = (text: string, params: unknown[]) => orNone(async () => (await client.query<Photo>(text, params)).rows)
  const columns = 'key, owner, position, width, height, bytes, caption'
  return {
    photosOf: (owner: string) => orNone(() => photosOf(client, owner)),
    /** The first photo of each owner, by owner. */
    async coversOf(owners: string[]): Promise<Map<string, Photo>> {
      if (owners.length === 0) return new Map()
      const found = await rows(
        `select distinct on (owner) ${columns} from image_photos where owner = any($1) order by owner, position`,
        [owners],
      )
      return new Map(found.map((photo) => [photo.owner, photo]))
    },
    /** The photo stored at `key`, if the component knows it: the site serves no other blob. */
    photo: async (key: string) => (await rows(`select ${columns} from image_photos where key = $1`, [key]))[0],
  }
}

export type PhotoMeta = ReturnType<typeof photoMetaOf>

export function contentTypeOf(key: string): string {
  return CONTENT_TYPES[key.slice(key.lastIndexOf('.') + 1).toLowerCase()] ?? 'application/octet-stream'
}

/**
 * The blob's bytes as a web stream: read from the directory as it is sent (fs), or fetched
 * whole through the shared blob API (any other blob store, s3 included; photos are small).
 */
export async function openBlob(store: PhotoStore, key: string): Promise<ReadableStream<Uint8Array>> {
  if (store.kind === 'fs' && store.client.root !== undefined) {
    const file = createReadStream(join(store.client.root, key))
    // fails here, not mid-response, when the file is missing
    await new Promise<void>((resolve, reject) => file.once('open', () => resolve()).once('error', reject))
    return Readable.toWeb(file) as ReadableStream<Uint8Array>
  }
  const bytes = await store.client.get(key)
  return new Response(new Uint8Array(bytes)).body!
}
