import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { BlobStore } from '@flux/core'
import { fsStore } from '@flux/fs'
import { afterAll, expect, it } from 'vitest'
import { flux, POOL_SOURCE, project, s3StoreSource, statusOf } from './cli-helpers.ts'
import { contentsOf, deleteAll, describeWithServer, randomPrefix, testStore } from './s3-test-helpers.ts'

const COUNT = 2_000

/** The same files for both projects: only the store `media` differs. */
const FILES = {
  'lib/pool.ts': POOL_SOURCE,
  'migrations/001_layout.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'media',
  async up({ store }) {
    for (const folder of ['incoming', 'photos/originals', 'photos/thumbnails', 'documents']) {
      await store.put(\`\${folder}/.keep\`, '')
    }
    await store.put('README.txt', 'media of the travel site\\n')
  },
})
`,
  'migrations/002_write_photos.ts': `import { Readable } from 'node:stream'
import { defineMigration } from '@flux/core'
import { pool } from '../lib/pool.ts'

/** Bytes of photo n: a text line, then n % 256 bytes of binary, a size that varies with n. */
const photo = (n: number) =>
  Buffer.concat([Buffer.from(\`photo \${n}\\n\`.repeat(1 + (n % 37))), Buffer.from(Array.from({ length: n % 256 }, (_, i) => (i * n) % 256))])

export default defineMigration({
  store: 'media',
  async up({ store, progress }) {
    const bar = progress(${COUNT})
    const numbers = Array.from({ length: ${COUNT} }, (_, n) => n)
    await pool(numbers, 32, async (n) => {
      const bytes = photo(n)
      // every tenth one as a stream of two chunks
      const body = n % 10 === 0 ? Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]) : bytes
      await store.put(\`incoming/\${String(n).padStart(4, '0')}.jpg\`, body)
      bar.advance()
    })
    // 9 MiB, streamed: a multipart upload on S3
    const chunks = Array.from({ length: 9 }, (_, i) => Buffer.alloc(1024 * 1024, i + 1))
    await store.put('incoming/panorama.bin', Readable.from(chunks))
  },
})
`,
  'migrations/003_move_to_photos.ts': `import { defineMigration } from '@flux/core'
import { pool } from '../lib/pool.ts'
export default defineMigration({
  store: 'media',
  async up({ store }) {
    const keys = (await store.list('incoming/')).filter((key) => key !== 'incoming/.keep')
    await pool(keys, 32, (key) => store.move(key, 'photos/originals/' + key.slice('incoming/'.length)))
  },
})
`,
  'migrations/004_delete_rejected.ts': `import { defineMigration } from '@flux/core'
import { pool } from '../lib/pool.ts'
export default defineMigration({
  store: 'media',
  async up({ store }) {
    const rejected = (await store.list('photos/originals/')).filter((key) => Number(/(\\d+)\\.jpg$/.exec(key)?.[1]) % 7 === 0)
    await pool(rejected, 32, (key) => store.delete(key))
    await store.delete('incoming/.keep')
  },
})
`,
}

/** Every key of a blob store with the sha256 of its bytes. */
async function snapshot(blobs: BlobStore): Promise<Map<string, string>> {
  const keys = await blobs.list('')
  const hashes = new Map<string, string>()
  for (let start = 0; start < keys.length; start += 64) {
    await Promise.all(
      keys.slice(start, start + 64).map(async (key) => {
        hashes.set(
          key,
          createHash('sha256')
            .update(await blobs.get(key))
            .digest('hex'),
        )
      }),
    )
  }
  return new Map([...hashes].sort(([a], [b]) => (a < b ? -1 : 1)))
}

describeWithServer('the same migrations on an fs store and on an s3 store', () => {
  const prefix = randomPrefix('parity')
  afterAll(() => deleteAll(prefix))

  it('end with the same keys and the same bytes', async () => {
    const onFs = await project({ media: "fsStore({ root: './var/media' })" }, FILES)
    const onS3 = await project({ media: s3StoreSource(prefix) }, FILES)
    const [fsRun, s3Run] = await Promise.all([flux(['up'], onFs), flux(['up'], onS3)])
    expect(fsRun.code, fsRun.stderr).toBe(0)
    expect(s3Run.code, s3Run.stderr).toBe(0)
    const ids = ['001_layout', '002_write_photos', '003_move_to_photos', '004_delete_rejected']
    for (const dir of [onFs, onS3]) expect(await statusOf(dir)).toEqual(ids.map((id) => [`app/${id}`, 'applied']))

    const kept = Array.from({ length: COUNT }, (_, n) => n).filter((n) => n % 7 !== 0)
    const expected = [
      'README.txt',
      'documents/.keep',
      'photos/originals/.keep',
      ...kept.map((n) => `photos/originals/${String(n).padStart(4, '0')}.jpg`),
      'photos/originals/panorama.bin',
      'photos/thumbnails/.keep',
    ].sort()
    const fsFiles = await snapshot(fsStore({ root: join(onFs, 'var', 'media') }).client())
    const s3Objects = await snapshot(testStore(prefix).client())
    expect([...fsFiles.keys()]).toEqual(expected)
    expect([...s3Objects.keys()]).toEqual(expected)
    expect(s3Objects).toEqual(fsFiles)
    // and in the bucket, nothing else than those and flux's own two objects
    expect(await contentsOf(prefix)).toEqual(['.flux/ledger.json', '.flux/lease.json', ...expected].sort())
  }, 120_000)
})
