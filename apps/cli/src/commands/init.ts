import { access, mkdir, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { CONFIG_FILE_NAMES, FluxError, writeSum } from '@flux/core'
import type { CommandInput } from '../command.ts'

export const usage = 'flux init [--adapter fs|pg|mongo|redis|s3] [--store <name>] [--root <dir>]'
export const description = `Creates flux.config.ts and an empty migrations/ folder (with its flux.sum) in the
current folder. The config has one store of the adapter named by --adapter: by default fs, a
directory on the local filesystem (nothing to install or set up); pg, mongo, redis and s3
read their server's address from the environment (DATABASE_URL, MONGO_URL, REDIS_URL,
S3_BUCKET…). Install the adapter's package (@flux/<adapter>) beside @flux/core.`
export const maxPositionals = 0
export const options = {
  adapter: {
    type: 'string',
    value: 'adapter',
    description: 'kind of the store: fs, pg, mongo, redis or s3 (default: fs)',
  },
  store: { type: 'string', value: 'name', description: 'name of the store (default: files, db, docs, cache or blobs)' },
  root: { type: 'string', value: 'dir', description: "an fs store's directory (default: ./var/<name>)" },
} as const
export const examples = ['flux init', 'flux init --adapter pg', 'flux init --store photos --root ./var/photos']

interface AdapterTemplate {
  /** Default store name. */
  store: string
  factory: string
  /** Lines of the config's comment above the store. */
  comment: string[]
  /** The factory's options, as source. */
  options: (root: string) => string
  /** What the user sets before `flux up`; empty for fs. */
  environment: string
}

/** One template per adapter: `flux init --adapter <kind>`. The README's table says the same. */
const ADAPTERS: Record<string, AdapterTemplate> = {
  fs: {
    store: 'files',
    factory: 'fsStore',
    comment: ['a directory on the local filesystem; add pgStore, mongoStore, redisStore, s3Store… beside it'],
    options: (root) => `{ root: '${root.replace(/[\\']/g, (character) => `\\${character}`)}' }`,
    environment: '',
  },
  pg: {
    store: 'db',
    factory: 'pgStore',
    comment: ['PostgreSQL at DATABASE_URL: postgres://user:password@host:5432/database'],
    options: () => '{ url: process.env.DATABASE_URL }',
    environment: 'DATABASE_URL (postgres://user:password@host:5432/database)',
  },
  mongo: {
    store: 'docs',
    factory: 'mongoStore',
    comment: ['MongoDB at MONGO_URL, the database in its path: mongodb://user:password@host:27017/database'],
    options: () => '{ url: process.env.MONGO_URL }',
    environment: 'MONGO_URL (mongodb://user:password@host:27017/database)',
  },
  redis: {
    store: 'cache',
    factory: 'redisStore',
    comment: ['Redis at REDIS_URL: redis://user:password@host:6379'],
    options: () => '{ url: process.env.REDIS_URL }',
    environment: 'REDIS_URL (redis://user:password@host:6379)',
  },
  s3: {
    store: 'blobs',
    factory: 's3Store',
    comment: [
      'the S3 bucket S3_BUCKET; S3_ENDPOINT for MinIO, R2, Ceph… (unset for AWS); AWS_REGION;',
      "credentials from the AWS SDK's chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile or a role.",
      'forcePathStyle puts the bucket in the path (host/bucket/key): MinIO and most S3-compatible',
      'servers need it, and AWS accepts it too',
    ],
    options: () => `{
      bucket: process.env.S3_BUCKET,
      endpoint: process.env.S3_ENDPOINT,
      region: process.env.AWS_REGION,
      forcePathStyle: true,
    }`,
    environment: 'S3_BUCKET, S3_ENDPOINT (not for AWS), AWS_REGION and AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY',
  },
}

export async function run({ values, output }: CommandInput): Promise<number> {
  const cwd = process.cwd()
  const kind = typeof values.adapter === 'string' ? values.adapter : 'fs'
  const adapter = ADAPTERS[kind]
  if (!adapter) {
    throw new FluxError('USAGE', `unknown adapter "${kind}"`, {
      hint: `pass --adapter with one of: ${Object.keys(ADAPTERS).join(', ')}`,
    })
  }
  if (typeof values.root === 'string' && kind !== 'fs') {
    throw new FluxError('USAGE', `--root is the directory of an fs store, not of a ${kind} store`, {
      hint: `drop --root: a ${kind} store reads its address from ${adapter.environment.split(' ')[0]}`,
    })
  }
  const store = typeof values.store === 'string' ? values.store : adapter.store
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(store)) {
    throw new FluxError('USAGE', `bad store name "${store}"`, {
      hint: 'use letters, digits, "-" or "_", starting with a letter',
    })
  }
  const root = typeof values.root === 'string' ? values.root : `./var/${store}`
  for (const name of CONFIG_FILE_NAMES) {
    if (await exists(join(cwd, name))) {
      throw new FluxError('USAGE', `${name} already exists in ${cwd}`, {
        hint: 'edit it, or run `flux init` in another folder',
      })
    }
  }
  const configFile = join(cwd, 'flux.config.ts')
  const key = /^[A-Za-z_][A-Za-z0-9_]*$/.test(store) ? store : `'${store}'`
  await writeFile(
    configFile,
    `import { defineConfig } from '@flux/core'
import { ${adapter.factory} } from '@flux/${kind}'

export default defineConfig({
  stores: {
${adapter.comment.map((line) => `    // ${line}\n`).join('')}    ${key}: ${adapter.factory}(${adapter.options(root)}),
  },
  migrations: './migrations',
})
`,
    { flag: 'wx' },
  )
  const migrations = join(cwd, 'migrations')
  await mkdir(migrations, { recursive: true })
  const sum = await writeSum(migrations)
  output.line(`created ${relative(cwd, configFile)} with ${kind} store "${store}"`)
  output.line(`created ${relative(cwd, sum)}`)
  const first = `${output.paint.bold('flux new <name>')} to write a migration, then ${output.paint.bold('flux up')}`
  output.line(adapter.environment ? `next: set ${adapter.environment}; ${first}` : `next: ${first}`)
  return 0
}

async function exists(file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch {
    return false
  }
}
