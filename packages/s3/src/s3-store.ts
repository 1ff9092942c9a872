import { randomUUID } from 'node:crypto'
import { DeleteObjectCommand, HeadBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { type Adapter, FluxError, unsetStore } from '@flux/core'
import { s3Blobs } from './s3-blobs.ts'
import { s3Lease } from './s3-lease.ts'
import { s3Ledger } from './s3-ledger.ts'
import {
  causeOf,
  explain,
  isConflict,
  isNotFound,
  resolveTarget,
  type S3Client,
  type S3StoreOptions,
  type S3Target,
  statusOf,
} from './s3-options.ts'

/** How long `open()` waits for the server to answer, all attempts included. */
const OPEN_TIMEOUT_MS = 10_000

/**
 * A store that is a bucket, or a folder (prefix) in one, on AWS S3 or any S3-compatible
 * server with conditional writes: blobs are the objects under the prefix, the ledger and the
 * lease are objects under `<prefix>.flux/`. No transactions: core records a migration as
 * `running`, then `applied`.
 *
 * @example
 * ```ts
 * // credentials come from the environment (AWS_ACCESS_KEY_ID…) or the host's role
 * export default defineConfig({ stores: { media: s3Store({ bucket: 'my-app-media', prefix: 'media/' }) } })
 * ```
 */
export function s3Store(options: S3StoreOptions): Adapter<S3Client> {
  let target: S3Target
  try {
    target = resolveTarget(options)
  } catch (error) {
    // no bucket (an unset S3_BUCKET): commands that open no store still work
    return unsetStore(error, { kind: 's3', capabilities: { blobs: true } })
  }
  const { ledger, fencing } = s3Ledger(target)
  const lease = s3Lease(target, fencing)
  const client = Object.freeze(s3Blobs(target))
  let probed = false

  return {
    specVersion: 'v1',
    kind: 's3',
    capabilities: { blobs: true },

    async open() {
      try {
        // a deadline for the whole check, retries included, whoever configured the client
        await target
          .sdk()
          .send(new HeadBucketCommand({ Bucket: target.bucket }), { abortSignal: AbortSignal.timeout(OPEN_TIMEOUT_MS) })
      } catch (error) {
        if (!isNotFound(error)) throw unavailable(target, error)
        // S3 servers name every response with a request id; a plain web server does not
        if (!requestIdOf(error)) {
          throw unavailable(target, error, {
            reason: 'the endpoint answered 404 without an S3 request id: it does not look like an S3 server',
            hint: `check the endpoint of ${target.description}`,
          })
        }
        throw unavailable(target, error, {
          reason: `bucket "${target.bucket}" does not exist`,
          hint: `create the bucket, or fix \`bucket\` in the s3Store() of ${target.description}`,
        })
      }
      if (!probed) probed = await probeConditionalWrites(target)
    },

    async close() {
      target.destroy()
    },

    describe: () => target.description,
    client: () => client,
    ledger,
    acquire: (acquireOptions) => lease.acquire(acquireOptions),
    inspectLease: () => lease.inspect(),
    breakLease: () => lease.breakLease(),
  }
}

function requestIdOf(error: unknown): string | undefined {
  return (error as { $metadata?: { requestId?: string } }).$metadata?.requestId
}

function unavailable(target: S3Target, error: unknown, { reason, hint } = explain(target, error)): FluxError {
  return new FluxError('STORE_UNAVAILABLE', `cannot open ${target.description}: ${reason}`, {
    hint,
    cause: causeOf(error),
  })
}

/**
 * The ledger and the lease are only safe on a server that honours `If-None-Match: *` and
 * `If-Match` on PutObject (AWS since 2024, MinIO…); some S3-compatible servers ignore them.
 * Checks with a throwaway object under `<prefix>.flux/`: a second create must fail, and so
 * must a write with a wrong ETag. Resolves whether the check could be made: read-only
 * credentials (enough for `flux status`) cannot make it, and their writes fail anyway.
 */
async function probeConditionalWrites(target: S3Target): Promise<boolean> {
  const Key = `${target.fluxFolder}probe-${randomUUID()}`
  const put = (condition: { IfNoneMatch: string } | { IfMatch: string }) =>
    target.sdk().send(new PutObjectCommand({ Bucket: target.bucket, Key, Body: 'flux probe', ...condition }))
  /** Whether the server refused the write for its condition. */
  const refuses = (condition: { IfNoneMatch: string } | { IfMatch: string }) =>
    put(condition).then(
      () => false,
      (error: unknown) => {
        if (isConflict(error)) return true
        throw error
      },
    )
  const failed = (error: unknown) => {
    const { reason, hint } = explain(target, error)
    return unavailable(target, error, { reason: `a test write under ${target.fluxFolder} failed: ${reason}`, hint })
  }

  let honoured: boolean | undefined
  try {
    await put({ IfNoneMatch: '*' })
  } catch (error) {
    if (statusOf(error) === 403) return false
    // 501 Not Implemented, or 400 for a header the server does not know
    if (statusOf(error) !== 501 && statusOf(error) !== 400) throw failed(error)
    honoured = false
  }
  try {
    honoured ??= (await refuses({ IfNoneMatch: '*' })) && (await refuses({ IfMatch: '"0"' }))
  } catch (error) {
    throw failed(error)
  } finally {
    await target
      .sdk()
      .send(new DeleteObjectCommand({ Bucket: target.bucket, Key }))
      // a probe left behind is harmless: nothing lists or reads `.flux/probe-*`
      .catch(() => {})
  }
  if (!honoured) {
    throw new FluxError(
      'STORE_UNAVAILABLE',
      `cannot use ${target.description}: the server ignores conditional writes (If-None-Match, If-Match), which flux's ledger and lease need`,
      { hint: 'use AWS S3, or an S3-compatible server with conditional writes (MinIO has them), or upgrade this one' },
    )
  }
  return true
}
