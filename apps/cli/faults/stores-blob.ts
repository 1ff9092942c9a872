// fs and s3: each application of a migration is a blob `effects/<name>/<pid>-<uuid>`.
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { type Effect, env, type FaultStore, hostOf, LEDGER_FENCED, literal, through, unique } from './store-kit.ts'

/** `effects/<name>/<pid>-<uuid>` keys of a blob store, as effects (temp files of unfinished writes are not). */
function blobEffects(keys: string[]): Effect[] {
  const effects: Effect[] = []
  for (const key of keys) {
    const match = /^effects\/([^/]+)\/(\d+)-[0-9a-f-]{36}$/.exec(key)
    if (match) effects.push({ name: match[1]!, pid: Number(match[2]) })
  }
  return effects
}

const blobEffect = (name: string) =>
  `await store.put(\`effects/${name}/\${process.pid}-\${crypto.randomUUID()}\`, 'applied')`

export const fs: FaultStore = {
  name: 'fs',
  imports: "import { fsStore } from '@flux/fs'",
  transactional: false,
  contract: LEDGER_FENCED,
  upstream: () => ({ unavailable: 'a local directory, no connection' }),
  async create(dir) {
    const root = join(dir, 'var', 'files')
    return {
      config: `fsStore({ root: ${literal(root)} })`,
      effect: blobEffect,
      async effects() {
        const keys = await readdir(join(root, 'effects'), { recursive: true }).catch(() => [] as string[])
        return blobEffects(keys.map((key) => `effects/${key.split('\\').join('/')}`))
      },
      cleanup: () => rm(root, { recursive: true, force: true }),
    }
  },
}

let s3Admin: S3Client | undefined
export const s3: FaultStore = {
  name: 's3',
  imports: "import { s3Store } from '@flux/s3'",
  variable: 'FLUX_TEST_S3_ENDPOINT',
  transactional: false,
  contract: LEDGER_FENCED,
  upstream: () => hostOf(env.FLUX_TEST_S3_ENDPOINT),
  async create(_dir, port) {
    const endpoint = env.FLUX_TEST_S3_ENDPOINT!
    const bucket = env.FLUX_TEST_S3_BUCKET ?? 'flux-test'
    const region = env.FLUX_TEST_S3_REGION ?? 'us-east-1'
    const credentials = {
      accessKeyId: env.FLUX_TEST_S3_ACCESS_KEY_ID ?? '',
      secretAccessKey: env.FLUX_TEST_S3_SECRET_ACCESS_KEY ?? '',
    }
    // the runners read them from the environment, as users give them
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    })
    s3Admin ??= new S3Client({ endpoint, region, forcePathStyle: true, credentials })
    const admin = s3Admin
    const prefix = `${unique('faults')}/`
    const keys = async (under: string) => {
      const found: string[] = []
      let ContinuationToken: string | undefined
      do {
        const page = await admin.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: under, ContinuationToken }))
        for (const object of page.Contents ?? []) found.push(object.Key!)
        ContinuationToken = page.NextContinuationToken
      } while (ContinuationToken)
      return found
    }
    const options = {
      bucket,
      prefix,
      endpoint: through(endpoint, port).replace(/\/$/, ''),
      region,
      forcePathStyle: true,
    }
    return {
      config: `s3Store(${literal(options)})`,
      effect: blobEffect,
      async effects() {
        return blobEffects((await keys(`${prefix}effects/`)).map((key) => key.slice(prefix.length)))
      },
      async cleanup() {
        const all = await keys(prefix)
        for (let start = 0; start < all.length; start += 1000) {
          const Objects = all.slice(start, start + 1000).map((Key) => ({ Key }))
          await admin.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects, Quiet: true } }))
        }
      },
    }
  },
}
