import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { type BlobBody, blobKeyProblem, FluxError, invalidBlobKey } from '@flux/core'
import { isNotFound, type S3Client, type S3Target, storeError } from './s3-options.ts'

/** S3's limits: 1,000 keys per DeleteObjects and per ListObjectsV2 page; keys of at most 1,024 UTF-8 bytes. */
const BATCH_SIZE = 1_000
const MAX_KEY_BYTES = 1_024

/**
 * The blob API over the objects under the store's prefix, key for key like `@flux/fs`.
 * Unlike a directory, a bucket lets `a` and `a/b` both exist; fs refuses the second.
 */
export function s3Blobs(target: S3Target): S3Client {
  const invalid = (key: string, reason: string) => invalidBlobKey(key, target.description, reason)

  const keyProblem = (key: string): string | undefined =>
    blobKeyProblem(key, target.fluxDir) ??
    (Buffer.byteLength(target.prefix + key) > MAX_KEY_BYTES
      ? `with the prefix it is over ${MAX_KEY_BYTES} bytes`
      : undefined)

  /** The object key of a valid blob key. */
  const objectKey = (key: string): string => {
    const problem = keyProblem(key)
    if (problem) throw invalid(key, problem)
    return target.prefix + key
  }

  const notFound = (key: string) =>
    new FluxError('BLOB_NOT_FOUND', `blob "${key}" not found in ${target.description}`, {
      hint: 'check the key; list(prefix) shows the keys that exist',
    })

  const sdk = () => target.sdk()
  const Bucket = target.bucket

  const exists = async (key: string) => {
    const Key = objectKey(key)
    try {
      await sdk().send(new HeadObjectCommand({ Bucket, Key }))
      return true
    } catch (error) {
      if (isNotFound(error)) return false
      throw storeError(target, `look for blob "${key}"`, error)
    }
  }

  /**
   * The keys under `prefix`, page by page as ListObjectsV2 gives them (S3's order: by UTF-8
   * bytes), after the key `after` (`StartAfter`): one page in memory at a time.
   */
  async function* listPages(prefix = '', options: { after?: string; pageSize?: number } = {}) {
    const cut = prefix.lastIndexOf('/') + 1
    // no valid key starts with a prefix whose complete names are invalid
    if (/[\\\0]/.test(prefix) || prefix.slice(0, cut).split('/').slice(0, -1).some(isBadName)) return
    // some servers (MinIO) refuse a prefix ending in "." or "..", which ".keep" or "..x" may still start with
    const tail = prefix.slice(cut)
    const Prefix = target.prefix + (tail === '.' || tail === '..' ? prefix.slice(0, cut) : prefix)
    const StartAfter = options.after === undefined ? undefined : target.prefix + options.after
    const MaxKeys = Math.min(Math.max(options.pageSize ?? BATCH_SIZE, 1), BATCH_SIZE)
    let ContinuationToken: string | undefined
    do {
      let page: ListObjectsV2CommandOutput
      try {
        page = await sdk().send(
          new ListObjectsV2Command({
            Bucket,
            Prefix,
            ContinuationToken,
            MaxKeys,
            ...(ContinuationToken ? {} : { StartAfter }),
          }),
        )
      } catch (error) {
        throw storeError(target, `list blobs under "${prefix}"`, error)
      }
      const keys: string[] = []
      for (const object of page.Contents ?? []) {
        const key = object.Key!.slice(target.prefix.length)
        // flux's own objects, and objects no blob key can name (folder markers "a/", "a//b")
        if (key.startsWith(prefix) && !keyProblem(key)) keys.push(key)
      }
      if (keys.length > 0) yield keys
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
    } while (ContinuationToken)
  }

  // listPages is not part of S3Client's type: the data toolkit's blobs() looks for it
  const client: S3Client & { listPages: typeof listPages } = {
    get client() {
      return target.sdk()
    },
    bucket: target.bucket,
    prefix: target.prefix,

    async put(key: string, body: BlobBody) {
      let Key: string
      try {
        Key = objectKey(key)
      } catch (error) {
        destroyUnread(body)
        throw error
      }
      try {
        if (typeof body === 'string' || body instanceof Uint8Array) {
          const ContentLength = Buffer.byteLength(body)
          if (ContentLength <= target.partSize) {
            await sdk().send(new PutObjectCommand({ Bucket, Key, Body: body, ContentLength }))
            return
          }
        }
        // streams (length unknown) and large bodies: a multipart upload, aborted on failure
        const upload = new Upload({
          client: sdk(),
          params: { Bucket, Key, Body: body },
          partSize: target.partSize,
          queueSize: 4,
          leavePartsOnError: false,
        })
        await upload.done()
      } catch (error) {
        destroyUnread(body)
        throw storeError(target, `write blob "${key}"`, error)
      }
    },

    async get(key) {
      const Key = objectKey(key)
      try {
        const response = await sdk().send(new GetObjectCommand({ Bucket, Key }))
        const bytes = await response.Body!.transformToByteArray()
        return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      } catch (error) {
        if (isNotFound(error)) throw notFound(key)
        throw storeError(target, `read blob "${key}"`, error)
      }
    },

    async list(prefix = '') {
      const keys: string[] = []
      for await (const page of listPages(prefix)) keys.push(...page)
      // S3 sorts by UTF-8 bytes; fs (and JavaScript) by UTF-16 code unit
      return keys.sort()
    },

    listPages,

    async delete(key) {
      const Key = objectKey(key)
      try {
        await sdk().send(new DeleteObjectCommand({ Bucket, Key }))
      } catch (error) {
        if (isNotFound(error)) return
        throw storeError(target, `delete blob "${key}"`, error)
      }
    },

    async deleteMany(keys) {
      const objects = [...new Set(keys)].map((key) => ({ Key: objectKey(key) }))
      for (let start = 0; start < objects.length; start += BATCH_SIZE) {
        const batch = objects.slice(start, start + BATCH_SIZE)
        let errors: { Key?: string; Code?: string }[]
        try {
          const response = await sdk().send(
            new DeleteObjectsCommand({ Bucket, Delete: { Objects: batch, Quiet: true } }),
          )
          errors = response.Errors ?? []
        } catch (error) {
          throw storeError(target, `delete ${batch.length} blobs`, error)
        }
        if (errors.length > 0) {
          const first = errors[0]!
          throw new FluxError(
            'STORE_ERROR',
            `could not delete ${errors.length} of ${batch.length} blobs in ${target.description}, first "${first.Key?.slice(target.prefix.length)}": ${first.Code}`,
            { hint: 'check that the credentials may s3:DeleteObject there', details: { errors: errors.length } },
          )
        }
      }
    },

    // S3 has no rename: a copy, then a delete. One CopyObject copies objects up to 5 GB; above
    // that S3 needs a multipart copy, which this does not do.
    async move(from, to) {
      const source = objectKey(from)
      const Key = objectKey(to)
      if (source === Key) {
        if (!(await exists(from))) throw notFound(from)
        return
      }
      try {
        await sdk().send(new CopyObjectCommand({ Bucket, Key, CopySource: copySource(Bucket, source) }))
      } catch (error) {
        if (isNotFound(error)) throw notFound(from)
        throw storeError(target, `copy blob "${from}" to "${to}" (objects over 5 GB cannot be moved)`, error)
      }
      try {
        await sdk().send(new DeleteObjectCommand({ Bucket, Key: source }))
      } catch (error) {
        throw storeError(target, `delete blob "${from}" after copying it to "${to}"`, error)
      }
    },

    exists,
  }
  return client
}

/** An empty, `.` or `..` name: the `""` check comes first in keyProblem, for its own message. */
function isBadName(name: string): boolean {
  return name === '' || name === '.' || name === '..'
}

/** `bucket/key`, URL-encoded as CopyObject wants it (the `/` between names kept). */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`
}

/** Releases a stream body that will not be read. */
function destroyUnread(body: BlobBody): void {
  if (typeof body === 'object' && 'destroy' in body && typeof body.destroy === 'function') body.destroy()
}
