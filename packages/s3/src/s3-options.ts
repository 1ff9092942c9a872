import { S3Client as AwsS3Client, type S3ClientConfig } from '@aws-sdk/client-s3'
import { type BlobStore, FluxError, messageOf } from '@flux/core'

/** Folder under the store's prefix that holds flux's own objects: `ledger.json` and `lease.json`. */
export const DEFAULT_FLUX_DIR = '.flux'
/** Part size of multipart uploads; bodies up to this size (and known in advance) go in one PutObject. */
export const DEFAULT_PART_SIZE = 8 * 1024 * 1024
/** How long the client the adapter creates waits for a TCP connection before it gives up. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000
/** How long the client the adapter creates lets a socket stay silent during a request. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 60_000
/** Attempts per request (first try included) of the client the adapter creates. */
export const DEFAULT_MAX_ATTEMPTS = 3

/** S3's own limit: a single multipart upload part must be at least 5 MiB (except the last). */
const MIN_PART_SIZE = 5 * 1024 * 1024

export interface S3StoreOptions {
  /** The bucket. It must exist: flux never creates or deletes buckets. */
  bucket: string | undefined
  /**
   * Folder inside the bucket for this store, like `media/` (a trailing `/` is added when
   * missing). Blob keys live under it and the ledger and lease under `<prefix>.flux/`.
   * Default `''`: the whole bucket.
   */
  prefix?: string
  /**
   * Your own client from `@aws-sdk/client-s3`, configured as you like. flux never destroys
   * it. Without it, the adapter creates one from `region`, `endpoint` and `forcePathStyle`,
   * with credentials from the SDK's default chain (environment, shared files, SSO, instance
   * role), and destroys it on `close()`.
   */
  client?: AwsS3Client
  /** Region of the bucket. Default: the SDK's chain (`AWS_REGION`, shared config files). */
  region?: string
  /** URL of an S3-compatible server (MinIO, Ceph, R2…), like `http://127.0.0.1:9000`. Default: AWS. */
  endpoint?: string
  /** Addresses the bucket in the path (`host/bucket/key`), as most S3-compatible servers need. Default `false`. */
  forcePathStyle?: boolean
  /** Part size of multipart uploads, at least 5 MiB. Default {@link DEFAULT_PART_SIZE}. */
  partSize?: number
}

/**
 * What a migration receives for an s3 store: the blob API shared with `@flux/fs` (keys are
 * relative to the store's prefix), batch deletes, and the SDK client for anything else.
 */
export type S3Client = BlobStore & {
  /** Deletes these objects, 1,000 per request; absent keys are not an error. */
  deleteMany(keys: readonly string[]): Promise<void>
  /** The SDK client the store uses: its own (valid until `close()`) or the one you passed. */
  readonly client: AwsS3Client
  readonly bucket: string
  /** The store's prefix inside the bucket: `''` or ending with `/`. Keys above are relative to it. */
  readonly prefix: string
}

/** Everything the adapter's parts share, resolved once by the factory. */
export interface S3Target {
  readonly bucket: string
  readonly prefix: string
  /** `s3 <bucket>/<prefix>`, plus ` at <host>` for a custom endpoint: no secret. */
  readonly description: string
  readonly fluxDir: string
  /** `<prefix>.flux/`: where the ledger, the lease and the conditional-write probe live. */
  readonly fluxFolder: string
  readonly ledgerKey: string
  readonly leaseKey: string
  readonly partSize: number
  /** The SDK client: the user's, or one created on first use (again after `close()`). */
  sdk(): AwsS3Client
  /** Destroys the client the adapter created, if any; never the user's. */
  destroy(): void
}

export function resolveTarget(options: S3StoreOptions): S3Target {
  const invalid = (message: string, hint: string, missing?: string[]) =>
    // with `missing`, core names the store and the unset variable behind the option
    new FluxError('CONFIG_INVALID', message, { hint, details: missing ? { missing } : undefined })
  if (typeof options?.bucket !== 'string' || options.bucket === '' || options.bucket.includes('/')) {
    throw invalid(
      's3Store() needs a `bucket` name',
      "pass the bucket's name: s3Store({ bucket: 'my-app-media' })",
      options?.bucket === undefined || options.bucket === '' ? ['bucket'] : undefined,
    )
  }
  let prefix = options.prefix ?? ''
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/'
  const segments = prefix === '' ? [] : prefix.slice(0, -1).split('/')
  if (prefix.startsWith('/') || /[\\\0]/.test(prefix) || segments.some(isBadSegment)) {
    throw invalid(
      `s3Store() got an invalid prefix ${JSON.stringify(options.prefix)}`,
      'a prefix is a folder path like "media/" or "apps/site/media/", without "." or ".." names or empty names',
    )
  }
  if (options.client && (options.region || options.endpoint || options.forcePathStyle !== undefined)) {
    throw invalid(
      's3Store() got both `client` and client settings (`region`, `endpoint`, `forcePathStyle`)',
      'configure your own S3Client, or pass the settings and let flux create one',
    )
  }
  let host = ''
  if (options.endpoint !== undefined) {
    try {
      host = new URL(options.endpoint).host
    } catch {
      throw invalid('s3Store() got an `endpoint` that is not a URL', 'pass a URL like http://127.0.0.1:9000')
    }
  }
  const partSize = options.partSize ?? DEFAULT_PART_SIZE
  if (!Number.isInteger(partSize) || partSize < MIN_PART_SIZE) {
    throw invalid(`s3Store() got a partSize of ${partSize}`, 'S3 needs parts of at least 5 MiB (5242880 bytes)')
  }

  let owned: AwsS3Client | undefined
  const config: S3ClientConfig = {
    maxAttempts: DEFAULT_MAX_ATTEMPTS,
    requestHandler: { connectionTimeout: DEFAULT_CONNECT_TIMEOUT_MS, requestTimeout: DEFAULT_REQUEST_TIMEOUT_MS },
  }
  if (options.region) config.region = options.region
  if (options.forcePathStyle !== undefined) config.forcePathStyle = options.forcePathStyle
  if (options.endpoint) {
    config.endpoint = options.endpoint
    // many S3-compatible servers reject the checksums the SDK now adds to every request
    config.requestChecksumCalculation = 'WHEN_REQUIRED'
    config.responseChecksumValidation = 'WHEN_REQUIRED'
  }
  const fluxFolder = `${prefix}${DEFAULT_FLUX_DIR}/`
  return {
    bucket: options.bucket,
    prefix,
    description: `s3 ${options.bucket}/${prefix}${host ? ` at ${host}` : ''}`,
    fluxDir: DEFAULT_FLUX_DIR,
    fluxFolder,
    ledgerKey: `${fluxFolder}ledger.json`,
    leaseKey: `${fluxFolder}lease.json`,
    partSize,
    sdk() {
      if (options.client) return options.client
      owned ??= new AwsS3Client(config)
      return owned
    },
    destroy() {
      owned?.destroy()
      owned = undefined
    },
  }
}

function isBadSegment(segment: string): boolean {
  return segment === '' || segment === '.' || segment === '..'
}

/** HTTP status of an SDK error, if the server answered. */
export function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode
}

/** The object (or the bucket) is not there. */
export function isNotFound(error: unknown): boolean {
  const name = (error as Error | undefined)?.name
  return statusOf(error) === 404 || name === 'NoSuchKey' || name === 'NotFound'
}

/**
 * A conditional write lost: `If-Match`/`If-None-Match` did not hold (412), or AWS saw a
 * concurrent conditional write to the same key (409 ConditionalRequestConflict).
 */
export function isConflict(error: unknown): boolean {
  const status = statusOf(error)
  return status === 412 || (status === 409 && (error as Error).name !== 'BucketAlreadyExists')
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH'])

/** What went wrong, and what to do about it, from an SDK error: never the request, its headers or its signature. */
export function explain(target: S3Target, error: unknown): { reason: string; hint: string } {
  const { name, code } = (error ?? {}) as { name?: string; code?: string }
  const status = statusOf(error)
  const message = messageOf(error)
  if (name === 'CredentialsProviderError') {
    return {
      reason: 'no AWS credentials were found',
      hint: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) in the environment, or run on a host with a role',
    }
  }
  if (/region is missing/i.test(message)) {
    return {
      reason: 'no AWS region is configured',
      hint: 'set AWS_REGION in the environment, or pass s3Store({ region })',
    }
  }
  if (name === 'AbortError') {
    return {
      reason: 'the endpoint did not answer in time',
      hint: `check the endpoint and the network of ${target.description}`,
    }
  }
  if ((code && NETWORK_CODES.has(code)) || name === 'TimeoutError' || name === 'RequestTimeout') {
    return {
      reason: `the endpoint cannot be reached (${code ?? name}: ${message})`,
      hint: `check the endpoint and the network of ${target.description}`,
    }
  }
  if (status === 403) {
    return {
      reason: `access denied (${name === 'Unknown' ? 'HTTP 403' : name})`,
      hint: `check the credentials, and that their policy allows s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on ${target.bucket}`,
    }
  }
  if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
    return {
      reason: 'the bucket is in another region',
      hint: `pass the region of bucket ${target.bucket}: s3Store({ region })`,
    }
  }
  const detail = message && message !== 'UnknownError' && message !== name ? `: ${message}` : ''
  return {
    reason: status === undefined ? message : `${name}${detail} (HTTP ${status})`,
    hint: `check ${target.description} and try again`,
  }
}

/** Wraps an unexpected SDK error; a `FluxError` passes through unchanged. */
export function storeError(target: S3Target, action: string, error: unknown): FluxError {
  if (FluxError.is(error)) return error
  const { reason, hint } = explain(target, error)
  return new FluxError('STORE_ERROR', `could not ${action} in ${target.description}: ${reason}`, {
    hint,
    cause: causeOf(error),
  })
}

/**
 * An SDK error without its `$response`, which holds the signed request (its Authorization
 * header names the access key): the cause of a FluxError is printed and logged whole.
 */
export function causeOf(error: unknown): unknown {
  if (!(error instanceof Error) || !('$response' in error)) return error
  const { name, message, stack } = error
  const { $metadata, Code } = error as { $metadata?: unknown; Code?: unknown }
  return Object.assign(new Error(message), { name, stack, $metadata, Code })
}

/** Waits before retry number `attempt` (1, 2…): 20 ms doubling up to 1 s, with jitter so racers spread out. */
export function backoff(attempt: number): Promise<void> {
  const delay = Math.min(1_000, 20 * 2 ** (attempt - 1))
  return new Promise((resolve) => setTimeout(resolve, delay / 2 + Math.random() * delay))
}
