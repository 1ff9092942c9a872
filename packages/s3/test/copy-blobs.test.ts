import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { GetObjectCommand } from '@aws-sdk/client-s3'
import { afterAll, expect, it } from 'vitest'
import { readmeExample } from '../../core/test/readme-blocks.ts'
import { flux, project, s3StoreSource, statusOf } from './cli-helpers.ts'
import { adminClient, BUCKET, contentsOf, deleteAll, describeWithServer, randomPrefix } from './s3-test-helpers.ts'

const COUNT = 1_000
const ID = 'app/20260301000000_copy_photos'

/** The README's fs → s3 example, as a user pastes it. */
export const COPY_PHOTOS = readmeExample('// migrations/20260301000000_copy_photos.ts')

const keyOf = (n: number) => `photos/${String(n % 20).padStart(2, '0')}/photo-${String(n).padStart(4, '0')}.jpg`
const bytesOf = (n: number) => Buffer.from(`${keyOf(n)}\n`.repeat(1 + (n % 50)))

describeWithServer('copying files from an fs store to an s3 store with the data toolkit', () => {
  const prefix = randomPrefix('blobs')
  afterAll(() => deleteAll(prefix))

  it('the README example copies every file under photos/, byte for byte, and nothing else', async () => {
    const dir = await project(
      { media: s3StoreSource(prefix), local: "fsStore({ root: './var/local' })" },
      { 'migrations/20260301000000_copy_photos.ts': COPY_PHOTOS },
    )
    for (let n = 0; n < COUNT; n++) {
      const file = join(dir, 'var', 'local', keyOf(n))
      await mkdir(dirname(file), { recursive: true })
      await writeFile(file, bytesOf(n))
    }
    await writeFile(join(dir, 'var', 'local', 'notes.txt'), 'not a photo')

    const up = await flux(['up'], dir)
    expect(up.code, up.stderr).toBe(0)
    expect(await statusOf(dir)).toEqual([[ID, 'applied']])
    expect(up.stderr).toContain(`${ID}: 1,000/1,000 (100%)`)
    const objects = (await contentsOf(prefix)).filter((key) => !key.startsWith('.flux/'))
    expect(objects).toEqual(Array.from({ length: COUNT }, (_, n) => keyOf(n)).sort())
    const body = await adminClient().send(new GetObjectCommand({ Bucket: BUCKET, Key: `${prefix}${keyOf(437)}` }))
    expect(Buffer.from(await body.Body!.transformToByteArray())).toEqual(bytesOf(437))
  }, 120_000)
})
