// @travel/images: a photo component for flux applications. Its migrations create the
// image_photos table in the `meta` role's pg store and the blob layout in the `blobs` role's
// store (fs or s3); these functions read and write photos wherever the application bound them.
import { Readable } from 'node:stream'
import type { BlobStore } from '@flux/core'
import type { PgClient } from '@flux/pg'

export interface Photo {
  key: string
  owner: string
  position: number
  width: number
  height: number
  bytes: number
  caption: string
}

/** Where a photo's bytes live in the blobs store: `photos/hotel/kyoto-gion/1.png` for owner 'hotel:kyoto-gion'. */
export function photoKey(owner: string, position: number): string {
  const [kind, name] = owner.split(':')
  if (!kind || !name) throw new RangeError(`a photo owner is '<kind>:<name>', like 'hotel:kyoto-gion', got "${owner}"`)
  return `photos/${kind}/${name}/${position}.png`
}

/** The photos of `owner` ('hotel:kyoto-gion'), in gallery order. */
export async function photosOf(meta: PgClient, owner: string): Promise<Photo[]> {
  const { rows } = await meta.query<Photo>(
    'select key, owner, position, width, height, bytes, caption from image_photos where owner = $1 order by position',
    [owner],
  )
  return rows
}

/** A photo's bytes as a stream, from the store the `blobs` role is bound to. */
export async function openPhoto(blobs: Pick<BlobStore, 'get'>, key: string): Promise<Readable> {
  return Readable.from([await blobs.get(key)])
}

/** Saves photos: their bytes in `blobs` (16 at a time), then their rows in `meta`, in one statement. */
export async function savePhotos(
  meta: PgClient,
  blobs: Pick<BlobStore, 'put'>,
  photos: (Omit<Photo, 'key' | 'bytes'> & { png: Buffer })[],
): Promise<void> {
  const rows = photos.map(({ png, ...photo }) => ({
    ...photo,
    key: photoKey(photo.owner, photo.position),
    bytes: png.length,
  }))
  for (let start = 0; start < photos.length; start += 16) {
    await Promise.all(
      photos.slice(start, start + 16).map((photo, index) => blobs.put(rows[start + index]!.key, photo.png)),
    )
  }
  const column = <K extends keyof Photo>(name: K) => rows.map((row) => row[name])
  await meta.query(
    `insert into image_photos (key, owner, position, width, height, bytes, caption)
     select * from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[], $6::int[], $7::text[])
     on conflict (key) do update set owner = excluded.owner, position = excluded.position, width = excluded.width,
       height = excluded.height, bytes = excluded.bytes, caption = excluded.caption`,
    [
      column('key'),
      column('owner'),
      column('position'),
      column('width'),
      column('height'),
      column('bytes'),
      column('caption'),
    ],
  )
}
