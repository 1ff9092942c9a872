import { blobs, copy, defineMigration, verifyCopy } from '@flux/core'
import type { FsClient } from '@flux/fs'
import type { S3Client } from '@flux/s3'

// Release 4: the images component's blobs role now points at the s3 store `media` (see
// flux.config.ts), whose component migrations ran there just before this one. The photos
// follow: every PNG under photos/ of the directory store, 200 a batch, 16 puts at a time,
// resumed after a crash from the last key written, then verified key by key. After this,
// the config retires `photos`.
export default defineMigration<S3Client, { photos: FsClient }>({
  store: 'media',
  parents: ['20261207100350_drop-pg-trips'],
  after: ['@travel/images/20261020090100_blob-layout'],
  uses: ['photos'],
  async up(ctx) {
    const from = blobs(ctx.stores.photos, { prefix: 'photos/', name: 'photos directory' })
    const to = blobs(ctx.store, { prefix: 'photos/', name: 'media bucket', concurrency: 16 })
    const result = await copy({ from, to, batchSize: 200, context: ctx })
    const resumed = result.resumedAfter === undefined ? '' : ` (resumed after ${result.resumedAfter})`
    ctx.log(`copied ${result.written} photos to s3${resumed}`)
    const report = await verifyCopy({ from, to, checksum: true })
    ctx.log(`verified: ${report.to.count} photos in s3, the same keys as the directory`)
  },
  async down({ store }) {
    await store.deleteMany(await store.list('photos/'))
  },
  destroysData: 'the photos in s3 (the directory store keeps its copies)',
})
