import { execFile } from 'node:child_process'
import { randomBytes, randomInt } from 'node:crypto'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3'
import type { Adapter } from '@flux/core'
import { describeWithServer } from '@flux/core/testing'
import { type MongoStoreClient, mongoStore } from '@flux/mongo'
import { type PgClient, pgStore } from '@flux/pg'
import { type RedisClient, redisStore } from '@flux/redis'
import { afterAll, describe, expect, it } from 'vitest'
import { emptyProject, exists, flux, statusJson } from './helpers.ts'

// `flux init --adapter <kind>` then `flux new`, for every adapter, as the README's quickstart
// runs them: the config reads the store's address from the environment, and the migration is
// typed for the adapter's client, with an example call that typechecks and runs as written.

interface Case {
  kind: 'fs' | 'pg' | 'mongo' | 'redis' | 's3'
  store: string
  /** The store's line in the config `flux init` writes. */
  configLine: string
  /** What the migration template imports its client type from. */
  typeImport: string
  /** Said on the `next:` line: what to set. */
  variable: string
  /** Enough environment for `flux new` to load the config (nothing is connected to). */
  offline: Record<string, string>
}

const CASES: Case[] = [
  {
    kind: 'fs',
    store: 'files',
    configLine: "files: fsStore({ root: './var/files' }),",
    typeImport: "import type { FsClient } from '@flux/fs'",
    variable: '',
    offline: {},
  },
  {
    kind: 'pg',
    store: 'db',
    configLine: 'db: pgStore({ url: process.env.DATABASE_URL }),',
    typeImport: "import type { PgClient } from '@flux/pg'",
    variable: 'DATABASE_URL',
    offline: { DATABASE_URL: 'postgres://app@127.0.0.1:1/app' },
  },
  {
    kind: 'mongo',
    store: 'docs',
    configLine: 'docs: mongoStore({ url: process.env.MONGO_URL }),',
    typeImport: "import type { MongoStoreClient } from '@flux/mongo'",
    variable: 'MONGO_URL',
    offline: { MONGO_URL: 'mongodb://127.0.0.1:1/app' },
  },
  {
    kind: 'redis',
    store: 'cache',
    configLine: 'cache: redisStore({ url: process.env.REDIS_URL }),',
    typeImport: "import type { RedisClient } from '@flux/redis'",
    variable: 'REDIS_URL',
    offline: { REDIS_URL: 'redis://127.0.0.1:1' },
  },
  {
    kind: 's3',
    store: 'blobs',
    configLine: 'blobs: s3Store({\n      bucket: process.env.S3_BUCKET,\n      endpoint: process.env.S3_ENDPOINT,',
    typeImport: "import type { S3Client } from '@flux/s3'",
    variable: 'S3_BUCKET',
    offline: { S3_BUCKET: 'app', S3_ENDPOINT: 'http://127.0.0.1:1' },
  },
]

/** A `flux` run that should succeed; its stderr tells why when it did not. */
function expectDone(result: { code: number | null; stderr: string }): void {
  expect(result.code, result.stderr).toBe(0)
}

/** The single migration file whose name ends with `_<slug>.<extension>`. */
async function written(dir: string, slug: string, extension = 'ts'): Promise<{ file: string; text: string }> {
  const names = (await readdir(join(dir, 'migrations'))).filter((name) => name.endsWith(`_${slug}.${extension}`))
  expect(names, `one migration file for ${slug}`).toHaveLength(1)
  const file = join(dir, 'migrations', names[0]!)
  return { file, text: await readFile(file, 'utf8') }
}

/** The template with its example calls uncommented. */
async function uncomment(file: string): Promise<void> {
  const text = await readFile(file, 'utf8')
  const edited = text.replace(/^( *)\/\/ await /gm, '$1await ').replace(/^-- (create|drop) /gm, '$1 ')
  expect(edited, `${file} has an example to uncomment`).not.toBe(text)
  await writeFile(file, edited)
}

describe('flux init --adapter', () => {
  for (const { kind, store, configLine, variable } of CASES) {
    it(`${kind}: a config with one ${kind} store "${store}" that reads ${variable || 'nothing'} from the environment`, async () => {
      const dir = await emptyProject()
      const init = await flux(kind === 'fs' ? ['init'] : ['init', '--adapter', kind], dir)
      expect(init.code, init.stderr).toBe(0)
      const config = await readFile(join(dir, 'flux.config.ts'), 'utf8')
      expect(config).toContain(`import { ${kind}Store } from '@flux/${kind}'`)
      expect(config).toContain(configLine)
      expect(config).toContain("migrations: './migrations',")
      expect(init.stdout).toContain(`created flux.config.ts with ${kind} store "${store}"`)
      const next = init.stdout.split('\n').find((line) => line.startsWith('next: '))
      if (variable) expect(next).toMatch(new RegExp(`^next: set ${variable}\\b`))
      else expect(next).toBe('next: flux new <name> to write a migration, then flux up')
      expect(await readFile(join(dir, 'migrations/flux.sum'), 'utf8')).toMatch(/^total sha256:/)
    })
  }

  it('s3: forcePathStyle, with the reason, and every variable the README names', async () => {
    const dir = await emptyProject()
    const init = await flux(['init', '--adapter', 's3', '--store', 'media'], dir)
    expect(init.code, init.stderr).toBe(0)
    const config = await readFile(join(dir, 'flux.config.ts'), 'utf8')
    expect(config).toContain('media: s3Store({')
    expect(config).toContain('region: process.env.AWS_REGION,')
    expect(config).toContain('forcePathStyle: true,')
    expect(config).toContain('MinIO and most S3-compatible')
    expect(init.stdout).toContain('next: set S3_BUCKET, S3_ENDPOINT (not for AWS), AWS_REGION and AWS_ACCESS_KEY_ID')
  })

  it('refuses an unknown adapter, naming the five, and --root for a store that is not a directory (exit 2)', async () => {
    const dir = await emptyProject()
    const unknown = await flux(['init', '--adapter', 'mysql'], dir)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('error: unknown adapter "mysql"')
    expect(unknown.stderr).toContain('hint: pass --adapter with one of: fs, pg, mongo, redis, s3')
    const root = await flux(['init', '--adapter', 'pg', '--root', './var/db'], dir)
    expect(root.code).toBe(2)
    expect(root.stderr).toContain('--root is the directory of an fs store, not of a pg store')
    expect(await exists(join(dir, 'flux.config.ts'))).toBe(false)
  })
})

describe('flux new: a template typed for the store', () => {
  for (const { kind, store, typeImport, offline } of CASES) {
    it(`${kind}: imports the client type of @flux/${kind}, with an example call in up() and down()`, async () => {
      const dir = await emptyProject()
      expectDone(await flux(['init', '--adapter', kind], dir))
      const created = await flux(['new', 'first step'], dir, offline)
      expect(created.code, created.stderr).toBe(0)
      const { text } = await written(dir, 'first-step')
      expect(text).toContain(typeImport)
      expect(text).toContain(`export default defineMigration<${typeImport.split(' ')[3]}>({\n  store: '${store}',`)
      expect(text.match(/^ {4}\/\/ await store\./gm)).toHaveLength(2)
      expect(await readFile(join(dir, 'migrations/flux.sum'), 'utf8')).toContain('_first-step.ts sha256:')
    })
  }

  it('typechecks as written and with its examples uncommented, in a strict TypeScript project', async () => {
    // inside this package, so that tsc finds @flux/* as a project that installed them would
    const root = join(
      dirname(fileURLToPath(import.meta.url)),
      '..',
      '.flux-tmp',
      `templates-${randomBytes(6).toString('hex')}`,
    )
    await mkdir(root, { recursive: true })
    try {
      const files: string[] = []
      for (const { kind, offline } of CASES) {
        const dir = join(root, kind)
        await mkdir(dir)
        expectDone(await flux(['init', '--adapter', kind], dir))
        expectDone(await flux(['new', 'as-written'], dir, offline))
        expectDone(await flux(['new', 'example'], dir, offline))
        await uncomment((await written(dir, 'example')).file)
        files.push((await written(dir, 'as-written')).file, (await written(dir, 'example')).file)
      }
      // and one mistake, so that a check that checked nothing would fail
      const broken = join(root, 'broken.ts')
      await writeFile(
        broken,
        `import { defineMigration } from '@flux/core'
import type { PgClient } from '@flux/pg'
export default defineMigration<PgClient>({ store: 'db', async up({ store }) { await store.put('a', 'b') } })
`,
      )
      await writeFile(join(root, 'package.json'), JSON.stringify({ name: 'templates', private: true, type: 'module' }))
      await writeFile(
        join(root, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: 'es2022',
            module: 'nodenext',
            moduleResolution: 'nodenext',
            skipLibCheck: true,
            types: ['node'],
          },
          files: [...files, broken],
        }),
      )
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
      const result = await promisify(execFile)(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], {
        cwd: root,
      }).then(
        () => ({ code: 0, stdout: '' }),
        (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
      )
      const errors = result.stdout.split('\n').filter((line) => /error TS\d+/.test(line))
      expect(errors.length, result.stdout).toBeGreaterThan(0)
      expect(
        errors.filter((line) => !line.startsWith('broken.ts')),
        result.stdout,
      ).toEqual([])
      expect(result.stdout).toContain("Property 'put' does not exist on type 'PgClient'")
    } finally {
      await rm(root, { recursive: true, force: true })
    }
  })
})

describe('flux new --sql', () => {
  const env = CASES.find((item) => item.kind === 'pg')!.offline

  it('writes an SQL migration with the header the pg adapter reads, parents only where not the default', async () => {
    const dir = await emptyProject()
    expectDone(await flux(['init', '--adapter', 'pg', '--store', 'catalog'], dir))
    for (const name of ['hotels', 'rooms']) expectDone(await flux(['new', name, '--sql'], dir, env))
    const hotels = await written(dir, 'hotels', 'sql')
    expect(hotels.text).toBe(`-- flux:store catalog
-- flux:up
-- create table example (id int primary key, name text not null);

-- flux:down
-- drop table example;
`)
    // rooms follows hotels, the previous file: the default, so no parents line
    expect((await written(dir, 'rooms', 'sql')).text).not.toContain('-- flux:parents')
    const fork = await flux(['new', 'fork', '--sql', '--head', 'hotels'], dir, env)
    expect(fork.code, fork.stderr).toBe(0)
    expect((await written(dir, 'fork', 'sql')).text).toContain(
      `-- flux:parents ${hotels.file.slice(hotels.file.lastIndexOf('/') + 1, -'.sql'.length)}\n-- flux:up\n`,
    )
    const sum = await readFile(join(dir, 'migrations/flux.sum'), 'utf8')
    for (const name of ['hotels', 'rooms', 'fork']) expect(sum).toMatch(new RegExp(`_${name}\\.sql sha256:`))
    const heads = await flux(['heads', '--json'], dir, env)
    expect(heads.code, heads.stderr).toBe(0)
    expect(heads.stdout).toContain('_rooms')
    expect(heads.stdout).toContain('_fork')
  })

  it('refuses a store that is not pg (exit 2), writing nothing', async () => {
    const dir = await emptyProject()
    expectDone(await flux(['init'], dir))
    const refused = await flux(['new', 'hotels', '--sql'], dir)
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain(
      'error: --sql writes an SQL migration, which only a pg store runs: store "files" is fs',
    )
    expect(await readdir(join(dir, 'migrations'))).toEqual(['flux.sum'])
  })
})

/** A store made for one test on a real server: the environment its config reads, and a look at the example's effect. */
interface LiveStore {
  env: Record<string, string>
  /** Whether what the uncommented example's up() writes is in the store. */
  hasExample(dir: string): Promise<boolean>
  cleanup(): Promise<void>
}

/** Opens an adapter, runs `body` with its client, closes it. */
async function withClient<Client, T>(adapter: Adapter<Client>, body: (client: Client) => Promise<T>): Promise<T> {
  await adapter.open()
  try {
    return await body(adapter.client())
  } finally {
    await adapter.close()
  }
}

/**
 * `flux init --adapter <kind>`, `flux new` as written and `flux up`; then an uncommented example,
 * `flux sum`, `flux up` (its change is in the store) and `flux down base` (it is gone).
 */
function quickstart(kind: Case['kind'], live: () => Promise<LiveStore>, sql = false) {
  const [options, extension] = sql ? [['--sql'], 'sql'] : [[], 'ts']
  it(`${kind}: the ${sql ? 'SQL ' : ''}template runs as written, and its example does what it says, up and down`, async () => {
    const store = await live()
    try {
      const dir = await emptyProject()
      const { env } = store
      expectDone(await flux(['init', '--adapter', kind], dir, env))
      expectDone(await flux(['new', 'as-written', ...options], dir, env))
      const first = await flux(['up'], dir, env)
      expect(first.code, first.stderr).toBe(0)
      expect(first.stdout).toContain('_as-written')

      expectDone(await flux(['new', 'example', ...options], dir, env))
      await uncomment((await written(dir, 'example', extension)).file)
      expectDone(await flux(['sum'], dir, env))
      expect(await store.hasExample(dir)).toBe(false)
      const up = await flux(['up'], dir, env)
      expect(up.code, up.stderr).toBe(0)
      expect(await store.hasExample(dir)).toBe(true)
      expect((await statusJson(dir, env)).map((row) => row.status)).toEqual(['applied', 'applied'])

      const down = await flux(['down', 'base', '--yes'], dir, env)
      expect(down.code, down.stderr).toBe(0)
      expect(await store.hasExample(dir)).toBe(false)
      expect((await statusJson(dir, env)).map((row) => row.status)).toEqual(['pending', 'pending'])
    } finally {
      await store.cleanup()
    }
  })
}

describe('the quickstart on a directory', () => {
  quickstart('fs', async () => ({
    env: {},
    hasExample: (dir) => exists(join(dir, 'var/files/hello.txt')),
    cleanup: async () => {},
  }))
})

describeWithServer('FLUX_TEST_PG_URL', 'the quickstart on PostgreSQL', (serverUrl) => {
  const admin = pgStore({ url: serverUrl })
  afterAll(() => admin.close())
  const live = async (): Promise<LiveStore> => {
    const database = `flux_init_${randomBytes(6).toString('hex')}`
    const url = `${serverUrl.replace(/\/[^/?]*(\?.*)?$/, '')}/${database}`
    await admin.open()
    const sql = (text: string) => (admin.client() as PgClient).query(text)
    await sql(`create database ${database}`)
    return {
      env: { DATABASE_URL: url },
      hasExample: () =>
        withClient(pgStore({ url }), async (client) => {
          const { rows } = await client.query<{ found: string | null }>(
            "select to_regclass('public.example')::text as found",
          )
          return rows[0]!.found !== null
        }),
      cleanup: async () => void (await sql(`drop database if exists ${database} with (force)`)),
    }
  }
  quickstart('pg', live)
  quickstart('pg', live, true)
})

describeWithServer('FLUX_TEST_MONGO_URL', 'the quickstart on MongoDB', (serverUrl) => {
  quickstart('mongo', async () => {
    const url = `${serverUrl.replace(/\/?$/, '/')}flux_init_${randomBytes(6).toString('hex')}`
    const look = <T>(body: (client: MongoStoreClient) => Promise<T>) => withClient(mongoStore({ url }), body)
    return {
      env: { MONGO_URL: url },
      hasExample: () =>
        look(async (client) => {
          const collections = await client.db.listCollections({ name: 'example' }).toArray()
          if (collections.length === 0) return false
          return (await client.db.collection('example').indexes()).some((index) => index.name === 'name_1')
        }),
      cleanup: () => look(async (client) => void (await client.db.dropDatabase())),
    }
  })
})

describeWithServer('FLUX_TEST_REDIS_URL', 'the quickstart on Redis', (serverUrl) => {
  quickstart('redis', async () => {
    // a database of its own (the config uses the default prefix), emptied of what the test wrote
    const url = `${serverUrl.replace(/\/\d*$/, '')}/${randomInt(1, 16)}`
    const look = <T>(body: (client: RedisClient) => Promise<T>) => withClient(redisStore({ url }), body)
    const clear = () =>
      look(async (client) => {
        const keys = [...(await client.redis.keys('{flux}*')), 'example']
        await client.redis.del(...keys)
      })
    await clear()
    return {
      env: { REDIS_URL: url },
      hasExample: () => look(async (client) => (await client.redis.get('example')) === 'hello'),
      cleanup: clear,
    }
  })
})

describeWithServer('FLUX_TEST_S3_ENDPOINT', 'the quickstart on S3', (endpoint) => {
  const region = process.env.FLUX_TEST_S3_REGION ?? 'us-east-1'
  const credentials = {
    accessKeyId: process.env.FLUX_TEST_S3_ACCESS_KEY_ID ?? '',
    secretAccessKey: process.env.FLUX_TEST_S3_SECRET_ACCESS_KEY ?? '',
  }
  const admin = new S3Client({ endpoint, region, forcePathStyle: true, credentials })
  afterAll(() => admin.destroy())
  quickstart('s3', async () => {
    // a bucket of its own: the config flux init writes uses the whole bucket
    const bucket = `flux-init-${randomBytes(6).toString('hex')}`
    await admin.send(new CreateBucketCommand({ Bucket: bucket }))
    return {
      env: {
        S3_BUCKET: bucket,
        S3_ENDPOINT: endpoint,
        AWS_REGION: region,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      },
      hasExample: () =>
        admin.send(new HeadObjectCommand({ Bucket: bucket, Key: 'hello.txt' })).then(
          () => true,
          () => false,
        ),
      cleanup: async () => {
        const listed = await admin.send(new ListObjectsV2Command({ Bucket: bucket }))
        const objects = (listed.Contents ?? []).map((object) => ({ Key: object.Key! }))
        if (objects.length > 0)
          await admin.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: objects } }))
        await admin.send(new DeleteBucketCommand({ Bucket: bucket }))
      },
    }
  })
})
