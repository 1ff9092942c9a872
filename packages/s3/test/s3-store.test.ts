import { randomBytes } from 'node:crypto'
import { type AddressInfo, createServer, type Socket } from 'node:net'
import { hostname } from 'node:os'
import { Readable } from 'node:stream'
import {
  S3Client as AwsS3Client,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { FluxError, type LedgerEntry, unsetStoreError } from '@flux/core'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DEFAULT_FLUX_DIR, DEFAULT_PART_SIZE, s3Store } from '../src/index.ts'
import {
  ACCESS_KEY_ID,
  adminClient,
  BUCKET,
  contentsOf,
  deleteAll,
  describeWithServer,
  ENDPOINT,
  REGION,
  randomPrefix,
  SECRET_ACCESS_KEY,
  testStore,
} from './s3-test-helpers.ts'

async function rejection(promise: Promise<unknown>): Promise<FluxError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  if (!FluxError.is(error)) throw new Error(`expected a FluxError, got ${String(error)}`)
  return error
}

const entry = (id: string, overrides: Partial<LedgerEntry> = {}): LedgerEntry => ({
  id,
  checksum: 'sha256:00',
  status: 'applied',
  appliedAt: '2026-01-01T00:00:00.000Z',
  durationMs: 5,
  runId: 'r-1',
  fluxVersion: '0.1.0',
  ...overrides,
})

/** An SDK client of the test server, as a user configures their own, with a count of the commands it sent. */
function ownClient(secretAccessKey = SECRET_ACCESS_KEY) {
  const client = new AwsS3Client({
    endpoint: ENDPOINT!,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey },
  })
  const sent = new Map<string, number>()
  client.middlewareStack.add(
    (next, context) => (args) => {
      sent.set(context.commandName!, (sent.get(context.commandName!) ?? 0) + 1)
      return next(args)
    },
    { step: 'initialize' },
  )
  return { client, sent }
}

describe('s3Store', () => {
  it('describes itself by bucket, prefix and endpoint host, never credentials', () => {
    const store = s3Store({ bucket: 'media', prefix: 'site/photos', endpoint: 'http://user:pw@minio.local:9000' })
    expect(store.describe()).toBe('s3 media/site/photos/ at minio.local:9000')
    expect(store.kind).toBe('s3')
    expect(store.specVersion).toBe('v1')
    expect(store.capabilities).toEqual({ blobs: true })
    expect(store.client().prefix).toBe('site/photos/')
    expect(store.client().bucket).toBe('media')
    expect(s3Store({ bucket: 'media' }).describe()).toBe('s3 media/')
    expect([DEFAULT_FLUX_DIR, DEFAULT_PART_SIZE]).toEqual(['.flux', 8 * 1024 * 1024])
  })

  it('refuses bad options with CONFIG_INVALID', () => {
    const code = (call: () => unknown) => {
      try {
        call()
      } catch (error) {
        return FluxError.is(error) ? error.code : String(error)
      }
      return 'no error'
    }
    // an unset variable as bucket: a store that says so when opened, and to loadProject
    expect(unsetStoreError(s3Store({ bucket: '' }))?.code).toBe('CONFIG_INVALID')
    expect(code(() => s3Store({ bucket: 'a', prefix: '../x' }))).toBe('CONFIG_INVALID')
    expect(code(() => s3Store({ bucket: 'a', prefix: '/abs' }))).toBe('CONFIG_INVALID')
    expect(code(() => s3Store({ bucket: 'a', endpoint: 'not a url' }))).toBe('CONFIG_INVALID')
    expect(code(() => s3Store({ bucket: 'a', partSize: 1024 }))).toBe('CONFIG_INVALID')
    expect(code(() => s3Store({ bucket: 'a', client: new AwsS3Client({}), region: 'eu-west-1' }))).toBe(
      'CONFIG_INVALID',
    )
  })
})

describeWithServer('s3Store on the S3 test server', () => {
  let prefix: string
  beforeEach(() => {
    prefix = randomPrefix('store')
  })
  afterEach(() => deleteAll(prefix))

  describe('open', () => {
    it('fails with STORE_UNAVAILABLE naming a missing bucket', async () => {
      const store = testStore('', { bucket: `flux-missing-${randomBytes(4).toString('hex')}` })
      const error = await rejection(store.open())
      expect(error.code).toBe('STORE_UNAVAILABLE')
      expect(error.message).toBe(`cannot open ${store.describe()}: bucket "${store.client().bucket}" does not exist`)
      expect(error.hint).toContain('create the bucket')
    })

    it('fails fast on a closed port, and with access denied on a wrong secret, showing no secret', async () => {
      const started = Date.now()
      const closed = await rejection(testStore(prefix, { endpoint: 'http://127.0.0.1:1' }).open())
      expect(closed.message).toMatch(/the endpoint cannot be reached \(ECONNREFUSED/)
      expect(Date.now() - started).toBeLessThan(5_000)

      const wrongSecret = `${SECRET_ACCESS_KEY}-wrong`
      const { client } = ownClient(wrongSecret)
      const denied = await rejection(s3Store({ bucket: BUCKET, prefix, client }).open())
      expect(denied.code).toBe('STORE_UNAVAILABLE')
      expect(denied.message).toBe(`cannot open s3 ${BUCKET}/${prefix}: access denied (HTTP 403)`)
      expect(denied.hint).toContain('check the credentials')
      for (const text of [denied.message, denied.hint, JSON.stringify(denied), denied.stack]) {
        expect(text).not.toContain(wrongSecret)
        expect(text).not.toContain(SECRET_ACCESS_KEY)
      }
    })

    it('gives up within 10 s on an endpoint that accepts connections and never answers', async () => {
      const sockets: Socket[] = []
      const silent = createServer((socket) => sockets.push(socket))
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
      const { port } = silent.address() as AddressInfo
      try {
        const started = Date.now()
        const error = await rejection(testStore(prefix, { endpoint: `http://127.0.0.1:${port}` }).open())
        expect(error.code).toBe('STORE_UNAVAILABLE')
        expect(error.message).toContain('the endpoint did not answer in time')
        expect(Date.now() - started).toBeLessThan(12_000)
      } finally {
        for (const socket of sockets) socket.destroy()
        silent.close()
      }
    }, 20_000)

    it('says when no credentials are found', async () => {
      const client = new AwsS3Client({
        endpoint: ENDPOINT!,
        region: REGION,
        forcePathStyle: true,
        credentials: async () => {
          throw Object.assign(new Error('Could not load credentials from any providers'), {
            name: 'CredentialsProviderError',
          })
        },
      })
      const error = await rejection(s3Store({ bucket: BUCKET, prefix, client }).open())
      expect(error.message).toContain('no AWS credentials were found')
      expect(error.hint).toContain('AWS_ACCESS_KEY_ID')
    })

    it('refuses a server that ignores conditional writes, and leaves no probe behind', async () => {
      const { client } = ownClient()
      // what such a server does: as if the If-Match / If-None-Match headers were never sent
      client.middlewareStack.add(
        (next) => (args) => {
          const headers = (args.request as { headers: Record<string, string> }).headers
          delete headers['if-match']
          delete headers['if-none-match']
          return next(args)
        },
        { step: 'build' },
      )
      const error = await rejection(s3Store({ bucket: BUCKET, prefix, client }).open())
      expect(error.code).toBe('STORE_UNAVAILABLE')
      expect(error.message).toContain('the server ignores conditional writes')
      expect(await contentsOf(prefix)).toEqual([])
    })

    it("checks conditional writes once per adapter, and never destroys the user's client", async () => {
      const { client, sent } = ownClient()
      const store = s3Store({ bucket: BUCKET, prefix, client })
      await store.open()
      await store.close()
      await store.open()
      await store.close()
      expect(sent.get('HeadBucketCommand')).toBe(2)
      expect(sent.get('PutObjectCommand')).toBe(3)
      expect(await contentsOf(prefix)).toEqual([])
      // still usable
      expect((await client.send(new ListBucketsCommand({}))).$metadata.httpStatusCode).toBe(200)
    })
  })

  describe('ledger', () => {
    it('is one object of { version, entries }, which two writers update without losing an entry', async () => {
      const [one, two] = [testStore(prefix), testStore(prefix)]
      await Promise.all([one.open(), two.open()])
      // no lease held: only the compare-and-swap on the ETag keeps both writers' entries
      const ids = (label: string) => Array.from({ length: 12 }, (_, index) => `app/${label}-${index}`)
      await Promise.all([
        (async () => {
          for (const id of ids('one')) await one.ledger.record(entry(id))
        })(),
        (async () => {
          for (const id of ids('two')) await two.ledger.record(entry(id))
        })(),
      ])
      const read = (await one.ledger.read()).map((recorded) => recorded.id)
      expect([...read].sort()).toEqual([...ids('one'), ...ids('two')].sort())
      expect(read.filter((id) => id.includes('one'))).toEqual(ids('one'))
      const object = await adminClient().send(
        new GetObjectCommand({ Bucket: BUCKET, Key: `${prefix}.flux/ledger.json` }),
      )
      const stored = JSON.parse(await object.Body!.transformToString())
      expect(stored.version).toBe(1)
      expect(stored.entries).toHaveLength(24)
      await Promise.all([one.close(), two.close()])
    })

    it('refuses a malformed ledger object with STORE_ERROR naming it', async () => {
      await adminClient().send(
        new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}.flux/ledger.json`, Body: '{"entries":[]}' }),
      )
      const error = await rejection(testStore(prefix).ledger.read())
      expect(error.code).toBe('STORE_ERROR')
      expect(error.message).toBe(
        `the ledger ${prefix}.flux/ledger.json in ${testStore(prefix).describe()} is malformed: its "version" is not 1 or 2`,
      )
    })

    it('a long ledger is sealed into segments: each write uploads a few kilobytes, a reader sees every entry in order', async () => {
      const ids = Array.from({ length: 300 }, (_, index) => `app/${String(index).padStart(4, '0')}`)
      const writer = testStore(prefix)
      await writer.ledger.write!(ids.map((id) => ({ record: entry(id) })))
      const stored = async () => {
        const object = await adminClient().send(
          new GetObjectCommand({ Bucket: BUCKET, Key: `${prefix}.flux/ledger.json` }),
        )
        const text = await object.Body!.transformToString()
        return { bytes: text.length, ...JSON.parse(text) }
      }
      // 300 entries: four segments of 64, the 44 most recent in ledger.json
      let object = await stored()
      expect(object.version).toBe(2)
      expect(object.segments.map((segment: { count: number }) => segment.count)).toEqual([64, 64, 64, 64])
      expect(object.entries.map((recorded: LedgerEntry) => recorded.id)).toEqual(ids.slice(256))
      const segmentKeys = (await contentsOf(prefix)).filter((key) => key.startsWith('.flux/ledger/'))
      expect(segmentKeys).toHaveLength(4)
      // another instance reads them all, in order
      expect((await testStore(prefix).ledger.read()).map((recorded) => recorded.id)).toEqual(ids)

      // the next step's record uploads the recent entries only
      await writer.ledger.record(entry('app/0300'))
      object = await stored()
      expect(object.segments).toHaveLength(4)
      expect(object.bytes).toBeLessThan(20_000)

      // a change to an early entry (the down of an early migration) seals the entries from there on anew
      await writer.ledger.remove('app/0010')
      await writer.ledger.record(entry('app/0100', { durationMs: 7 }))
      const expected = [...ids, 'app/0300'].filter((id) => id !== 'app/0010')
      const read = await testStore(prefix).ledger.read()
      expect(read.map((recorded) => recorded.id)).toEqual(expected)
      expect(read.find((recorded) => recorded.id === 'app/0100')?.durationMs).toBe(7)
      object = await stored()
      expect(object.segments[0].count).toBe(64)
      expect(
        object.segments.reduce((sum: number, segment: { count: number }) => sum + segment.count, 0) +
          object.entries.length,
      ).toBe(300)
    })

    it('refuses a segment whose bytes are not what the ledger says, naming it', async () => {
      const writer = testStore(prefix)
      await writer.ledger.write!(Array.from({ length: 100 }, (_, index) => ({ record: entry(`app/${index}`) })))
      const [segment] = (await contentsOf(prefix)).filter((key) => key.startsWith('.flux/ledger/'))
      const Key = `${prefix}${segment}`
      const object = await adminClient().send(new GetObjectCommand({ Bucket: BUCKET, Key }))
      const text = (await object.Body!.transformToString()).replace('"app/3"', '"app/x"')
      await adminClient().send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: text }))
      const error = await rejection(testStore(prefix).ledger.read())
      expect(error.code).toBe('STORE_ERROR')
      expect(error.message).toBe(
        `the ledger ${prefix}.flux/ledger.json in ${testStore(prefix).describe()} is malformed: its segment ${Key} does not have the SHA-256 that the ledger gives it`,
      )
    })
  })

  describe('lease', () => {
    const acquire = (store: ReturnType<typeof testStore>, pid: number, ttlMs = 30_000) =>
      store.acquire({
        store: 'media',
        ttlMs,
        waitMs: 0,
        holder: { host: hostname(), pid, runId: `r-${pid}`, since: new Date().toISOString() },
      })

    it('released, it leaves a "released" object that the next runner takes with If-Match', async () => {
      const store = testStore(prefix)
      const lease = await acquire(store, process.pid)
      await lease.release()
      // and the ledger object, created to carry the fence, with no entry
      expect(await contentsOf(prefix)).toEqual(['.flux/lease.json', '.flux/ledger.json'])
      expect(await store.ledger.read()).toEqual([])
      expect(await store.inspectLease()).toBeUndefined()
      const next = await acquire(store, process.pid)
      expect(await store.inspectLease()).toMatchObject({ pid: process.pid })
      await next.release()
    })

    it('a lease of a dead process on this host is taken over at once', async () => {
      // pids are below 2^22 on Linux: this one does not exist
      await acquire(testStore(prefix), 2 ** 22 + 17).then((lease) => {
        // stop renewing it, as a killed process would
        ;(lease as unknown as Record<symbol, () => void>)[Symbol.for('flux.lease.suspend')]!()
      })
      const lease = await acquire(testStore(prefix), process.pid)
      expect(await testStore(prefix).inspectLease()).toMatchObject({ pid: process.pid })
      await lease.release()
    })

    it('a lease older than its ttl by the server clock is taken over by a newcomer at once', async () => {
      const holder = { host: 'elsewhere.invalid', pid: 1, runId: 'r-old', since: new Date().toISOString() }
      const stale = { version: 1, token: 'old', holder, ttlMs: 100, renewedAt: holder.since, renewals: 0 }
      const Key = `${prefix}.flux/lease.json`
      await adminClient().send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: JSON.stringify(stale) }))
      const started = Date.now()
      // each attempt is a fresh adapter with waitMs 0: it never watched the lease, only the server's clock can tell
      for (;;) {
        const taken = await acquire(testStore(prefix), process.pid).catch(() => undefined)
        if (taken) {
          await taken.release()
          break
        }
        if (Date.now() - started > 5_000) throw new Error('the stale lease was never taken over')
      }
      // Last-Modified and Date have whole seconds, so not before ttl + 1s
      expect(Date.now() - started).toBeGreaterThanOrEqual(900)
    })
  })

  describe('fencing', () => {
    const holder = (pid: number) => ({
      host: 'flux-s3-test.invalid',
      pid,
      runId: `r-${pid}`,
      since: new Date().toISOString(),
    })
    const acquire = (store: ReturnType<typeof testStore>, pid: number, ttlMs = 30_000, waitMs = 0) =>
      store.acquire({ store: 'media', ttlMs, waitMs, holder: holder(pid) })
    const ledgerObject = async () => {
      const object = await adminClient().send(
        new GetObjectCommand({ Bucket: BUCKET, Key: `${prefix}.flux/ledger.json` }),
      )
      return { etag: object.ETag, stored: JSON.parse(await object.Body!.transformToString()) }
    }

    it('each acquisition moves the fence in the ledger object, with an epoch that grows; reading gives only the entries', async () => {
      const [one, two] = [testStore(prefix), testStore(prefix)]
      const first = await acquire(one, 101)
      expect(first.epoch).toBe(1)
      expect(await two.inspectLease()).toMatchObject({ pid: 101, epoch: 1 })
      await one.ledger.record(entry('app/one'))
      const { stored } = await ledgerObject()
      expect(stored.fence).toMatchObject({ epoch: 1, holder: { pid: 101, epoch: 1 } })
      expect(stored.entries).toEqual([entry('app/one')])
      expect(await two.ledger.read()).toEqual([entry('app/one')])
      await first.release()

      const second = await acquire(two, 102)
      expect(second.epoch).toBe(2)
      expect((await ledgerObject()).stored.fence).toMatchObject({ epoch: 2, holder: { pid: 102 } })
      await two.ledger.record(entry('app/two'))
      // `one` released its own lease: it writes unconditionally again, keeping the fence
      await one.ledger.record(entry('app/by-hand'))
      await two.ledger.record(entry('app/three'))
      expect((await one.ledger.read()).map((read) => read.id)).toEqual([
        'app/one',
        'app/two',
        'app/by-hand',
        'app/three',
      ])
      expect((await ledgerObject()).stored.fence.epoch).toBe(2)
      await second.release()
    })

    it('a broken lease fences its holder: LEASE_LOST, the ledger object left as it was, the next epoch after the break', async () => {
      const [stuck, breaker] = [testStore(prefix), testStore(prefix)]
      const lease = await acquire(stuck, 201)
      await stuck.ledger.record(entry('app/before'))
      expect(await breaker.breakLease()).toMatchObject({ pid: 201, epoch: 1 })
      const broken = await ledgerObject()
      expect(broken.stored.fence.epoch).toBe(2)
      expect(broken.stored.fence.holder).toBeUndefined()
      const error = await rejection(stuck.ledger.record(entry('app/after', { status: 'running' })))
      expect(error.code).toBe('LEASE_LOST')
      expect(error.message).toBe(
        `${stuck.describe()}: cannot record app/after in the ledger: this runner's lease was taken over by another runner (it is free again now)`,
      )
      expect((await ledgerObject()).etag).toBe(broken.etag)
      await lease.release()
      const next = await acquire(breaker, 202)
      expect(next.epoch).toBe(3)
      // still refused: its lease never came back
      expect((await rejection(stuck.ledger.remove('app/before'))).code).toBe('LEASE_LOST')
      await next.release()
    })

    it('costs one request per acquisition when the ledger was read before, and none per migration', async () => {
      const { client, sent } = ownClient()
      const store = s3Store({ bucket: BUCKET, prefix, client })
      await store.ledger.read()
      sent.clear()
      const lease = await acquire(store, 301)
      // the lease read and write, then the fence moved by compare-and-swap on the ETag just read
      expect(Object.fromEntries(sent)).toEqual({ GetObjectCommand: 1, PutObjectCommand: 2 })
      sent.clear()
      await store.ledger.record(entry('app/one', { status: 'running' }))
      await store.ledger.record(entry('app/one'))
      expect(Object.fromEntries(sent)).toEqual({ PutObjectCommand: 2 })
      await lease.release()
    })

    it('a holder whose lease was taken over writes nothing, and is told who took it', async () => {
      const [stale, next] = [testStore(prefix), testStore(prefix)]
      const old = await acquire(stale, 401, 500)
      ;(old as unknown as Record<symbol, () => void>)[Symbol.for('flux.lease.suspend')]!()
      await stale.ledger.record(entry('app/slow', { status: 'running' }))
      const lease = await acquire(next, 402, 30_000, 5_000)
      const before = await ledgerObject()
      const error = await rejection(stale.ledger.record(entry('app/slow')))
      expect(error.code).toBe('LEASE_LOST')
      expect(error.message).toContain(
        `cannot record app/slow in the ledger: this runner's lease was taken over by pid 402 on flux-s3-test.invalid`,
      )
      expect(error.message).toContain('epoch 2')
      expect(error.details).toMatchObject({ holder: { pid: 402, epoch: 2 } })
      expect((await ledgerObject()).etag).toBe(before.etag)
      await lease.release()
      await old.release()
    })
  })

  describe('blobs', () => {
    it('lists past 1,000 keys, by UTF-16 code unit, without folder markers or flux objects', async () => {
      const store = testStore(prefix)
      await store.open()
      const blobs = store.client()
      const keys = Array.from({ length: 1_050 }, (_, index) => `many/${String(index).padStart(4, '0')}`)
      for (let start = 0; start < keys.length; start += 50) {
        await Promise.all(keys.slice(start, start + 50).map((key) => blobs.put(key, key)))
      }
      // S3 orders by UTF-8 bytes: U+FFFD before U+1F600; fs and JavaScript the other way round
      await blobs.put('odd/\uFFFD', 'a')
      await blobs.put('odd/😀', 'b')
      await adminClient().send(new PutObjectCommand({ Bucket: BUCKET, Key: `${prefix}odd/folder/`, Body: '' }))
      await blobs.put('.keep', '')
      await store.ledger.record(entry('app/one'))
      expect(await blobs.list('many/')).toEqual(keys)
      expect(await blobs.list('odd/')).toEqual(['odd/😀', 'odd/\uFFFD'])
      expect(await blobs.list('.')).toEqual(['.keep'])
      expect(await blobs.list('odd/./')).toEqual([])
      expect(await contentsOf(prefix)).toContain('.flux/ledger.json')
      await store.close()
    })

    it('deleteMany deletes in batches of 1,000 (1,001 keys: 2 requests) and refuses an invalid key before deleting anything', async () => {
      const { client, sent } = ownClient()
      const blobs = s3Store({ bucket: BUCKET, prefix, client }).client()
      const keys = Array.from({ length: 1_001 }, (_, index) => `batch/${index}`)
      for (let start = 0; start < keys.length; start += 100) {
        await Promise.all(keys.slice(start, start + 100).map((key) => blobs.put(key, '')))
      }
      expect((await rejection(blobs.deleteMany(['batch/1', '../x']))).code).toBe('KEY_INVALID')
      expect(await blobs.exists('batch/1')).toBe(true)
      await blobs.deleteMany([...keys, 'batch/absent'])
      expect(sent.get('DeleteObjectsCommand')).toBe(2)
      expect(await contentsOf(prefix)).toEqual([])
    })

    it('puts streams and large bodies as multipart uploads, small ones in one request', async () => {
      const { client, sent } = ownClient()
      const blobs = s3Store({ bucket: BUCKET, prefix, client, partSize: 5 * 1024 * 1024 }).client()
      const chunks = Array.from({ length: 12 }, () => randomBytes(1024 * 1024))
      await blobs.put('big/stream.bin', Readable.from(chunks))
      const large = randomBytes(6 * 1024 * 1024)
      await blobs.put('big/buffer.bin', large)
      await blobs.put('small.txt', 'small')
      const etag = async (key: string) =>
        (await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: prefix + key }))).ETag
      expect(await etag('big/stream.bin')).toMatch(/-3"$/)
      expect(await etag('big/buffer.bin')).toMatch(/-2"$/)
      expect(await etag('small.txt')).not.toContain('-')
      expect(sent.get('CompleteMultipartUploadCommand')).toBe(2)
      expect((await blobs.get('big/stream.bin')).equals(Buffer.concat(chunks))).toBe(true)
      expect((await blobs.get('big/buffer.bin')).equals(large)).toBe(true)
    })

    it('moves keys with spaces and non-ASCII names; refuses keys over 1,024 bytes', async () => {
      const blobs = testStore(prefix).client()
      await blobs.put('in/a b+c %é.txt', 'x')
      await blobs.move('in/a b+c %é.txt', 'out/ü ✓ #?.txt')
      expect(await blobs.list('')).toEqual(['out/ü ✓ #?.txt'])
      expect((await blobs.get('out/ü ✓ #?.txt')).toString()).toBe('x')
      expect((await rejection(blobs.put('x'.repeat(1_100), 'x'))).code).toBe('KEY_INVALID')
      expect(await contentsOf(prefix)).toEqual(['out/ü ✓ #?.txt'])
    })
  })
})
