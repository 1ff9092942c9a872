import { randomBytes } from 'node:crypto'
import { S3Client as AwsS3Client, DeleteObjectsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import { describeWithServer as describeServer } from '@flux/core/testing'
import { type S3StoreOptions, s3Store } from '../src/index.ts'

const env = process.env
export const ENDPOINT = env.FLUX_TEST_S3_ENDPOINT
export const BUCKET = env.FLUX_TEST_S3_BUCKET ?? 'flux-test'
export const REGION = env.FLUX_TEST_S3_REGION ?? 'us-east-1'
export const ACCESS_KEY_ID = env.FLUX_TEST_S3_ACCESS_KEY_ID ?? ''
export const SECRET_ACCESS_KEY = env.FLUX_TEST_S3_SECRET_ACCESS_KEY ?? ''

/** Credentials as users give them: in the environment, read by the SDK's default chain. */
export const CREDENTIALS_ENV = {
  AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY,
  AWS_REGION: REGION,
}
if (ENDPOINT) Object.assign(process.env, CREDENTIALS_ENV)

const SERVICES_HINT = 'start the test servers with `scripts/services start`, then run `eval "$(scripts/services env)"`'

/** Runs `fn` against the S3 test server (FLUX_TEST_S3_ENDPOINT); without one, fails under CI and skips elsewhere. */
export const describeWithServer = (name: string, fn: (endpoint: string) => void) =>
  describeServer('FLUX_TEST_S3_ENDPOINT', name, fn, SERVICES_HINT)

/** A fresh folder in the test bucket, so that tests (and other engineers' runs) never meet. */
export function randomPrefix(label = 't'): string {
  return `${label}-${randomBytes(6).toString('hex')}/`
}

/** An s3 store on the test server, as a user configures one (credentials from the environment). */
export function testStore(prefix: string, options: Partial<S3StoreOptions> = {}) {
  return s3Store({ bucket: BUCKET, prefix, endpoint: ENDPOINT!, region: REGION, forcePathStyle: true, ...options })
}

let admin: AwsS3Client | undefined
/** A plain SDK client on the test bucket, to look at and clean up what the adapter wrote. */
export function adminClient(): AwsS3Client {
  admin ??= new AwsS3Client({
    endpoint: ENDPOINT!,
    region: REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET_ACCESS_KEY },
  })
  return admin
}

/** Every object key under `prefix`, relative to it, raw (flux's own objects included), sorted. */
export async function contentsOf(prefix: string): Promise<string[]> {
  const keys: string[] = []
  let ContinuationToken: string | undefined
  do {
    const page = await adminClient().send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken }),
    )
    for (const object of page.Contents ?? []) keys.push(object.Key!.slice(prefix.length))
    ContinuationToken = page.NextContinuationToken
  } while (ContinuationToken)
  return keys.sort()
}

/** Deletes every object under `prefix`. */
export async function deleteAll(prefix: string): Promise<void> {
  const keys = await contentsOf(prefix)
  for (let start = 0; start < keys.length; start += 1000) {
    const Objects = keys.slice(start, start + 1000).map((key) => ({ Key: prefix + key }))
    await adminClient().send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects, Quiet: true } }))
  }
}
