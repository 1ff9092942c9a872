import { execFile } from 'node:child_process'
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { Db } from 'mongodb'
import { afterEach, describe, expect, it } from 'vitest'
import { UNSUPPORTED_CODES } from '../src/mongo-options.ts'
import { flux, project } from './cli-helpers.ts'
import { describeWithServer, freshDatabase, REPLSET_URL } from './mongo-test-helpers.ts'

// `flux new --autogenerate` for a mongo store on the real server, through the built CLI: declare,
// generate, apply, generate again (nothing), change the declaration, generate, apply, and down.

/** What a comparison sees of a database: its collections (flux's own aside), their indexes besides _id_ and validation. */
async function liveState(db: Db): Promise<Record<string, unknown>> {
  const state: Record<string, unknown> = {}
  for (const info of await db.listCollections().toArray()) {
    if (info.name === 'flux_ledger' || info.name === 'flux_lock') continue
    const indexes = (await db.collection(info.name).listIndexes().toArray())
      .filter((index) => index.name !== '_id_')
      .map(({ v: _version, ...index }) => index)
      .sort((a, b) => (a.name < b.name ? -1 : 1))
    const { validator, validationLevel, validationAction } =
      (info as { options?: Record<string, unknown> }).options ?? {}
    // MongoDB keeps `validator: {}` where a validator was removed
    const validated = validator !== undefined && Object.keys(validator as object).length > 0
    state[info.name] = { indexes, ...(validated ? { validator, validationLevel, validationAction } : {}) }
  }
  return state
}

async function migrationFiles(dir: string): Promise<string[]> {
  return (await readdir(join(dir, 'migrations'))).filter((name) => name.endsWith('.ts')).sort()
}

async function declare(dir: string, collections: string): Promise<void> {
  await mkdir(join(dir, 'db'), { recursive: true })
  await writeFile(
    join(dir, 'db', 'mongo.ts'),
    `import { declareCollections } from '@flux/mongo'\nexport default declareCollections(${collections})\n`,
  )
}

/** `flux new <name> --autogenerate`: the file it wrote and its text. */
async function generate(dir: string, name: string): Promise<{ file: string; text: string; stdout: string }> {
  const before = await migrationFiles(dir)
  const result = await flux(['new', name, '--autogenerate', '--store', 'reviews'], dir)
  expect(result.code, result.stderr).toBe(0)
  const [file] = (await migrationFiles(dir)).filter((candidate) => !before.includes(candidate))
  expect(file, result.stdout).toMatch(new RegExp(`^\\d{14}_${name}\\.ts$`))
  expect(result.stdout).toContain(`created migrations/${file}\n`)
  return { file: file!, text: await readFile(join(dir, 'migrations', file!), 'utf8'), stdout: result.stdout }
}

async function expectNothing(dir: string): Promise<string> {
  const before = await migrationFiles(dir)
  const again = await flux(['new', 'again', '--autogenerate', '--store', 'reviews'], dir)
  expect(again.code, again.stderr).toBe(0)
  expect(again.stdout).toMatch(/^nothing to generate: store "reviews" already matches its declared schema\n/)
  expect(await migrationFiles(dir)).toEqual(before)
  return again.stdout
}

async function up(dir: string): Promise<void> {
  const result = await flux(['up'], dir)
  expect(result.code, result.stderr + result.stdout).toBe(0)
}

const drops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const drop of drops.splice(0)) await drop()
})

/** A database of the test's own, dropped after it, and a project whose store `reviews` declares db/mongo.ts. */
async function fresh(url: string) {
  const database = await freshDatabase(url)
  drops.push(database.drop)
  const dir = await project(
    `mongoStore({ url: ${JSON.stringify(url)}, database: '${database.name}', declared: 'db/mongo.ts' })`,
    {},
  )
  return { db: database.db, dir }
}

describeWithServer('flux new --autogenerate (mongo)', (url) => {
  it('generates indexes and collections, applies them, then has nothing to generate; a changed declaration round-trips, and down restores', async () => {
    const { db, dir } = await fresh(url)
    // a collection the application does not declare: reported, never dropped
    await db.collection('legacy').insertOne({ kept: true })
    await declare(
      dir,
      `{
  users: { indexes: [{ key: { email: 1 }, unique: true }, { key: { country: 1, createdAt: -1 } }] },
  posts: { indexes: [{ key: { author: 1 }, name: 'by_author' }] },
}`,
    )
    const first = await generate(dir, 'collections')
    expect(first.stdout).toContain('4 statements up, 2 down, generated from the declared schema')
    expect(first.stdout).toContain('note: collection legacy is in the database but not declared')
    expect(first.text).toBe(`import { defineMigration } from '@flux/core'
import type { MongoStoreClient } from '@flux/mongo'

// generated by \`flux new --autogenerate\` from the store's declared schema: review it before applying
// flux: down drops collection users, which up creates, with the documents written to it since
// flux: down drops collection posts, which up creates, with the documents written to it since
// flux: collection legacy is in the database but not declared: autogenerate never drops a collection (declare it, or drop it in a migration of your own)
export default defineMigration<MongoStoreClient>({
  store: 'reviews',
  async up({ store }) {
    await store.db.createCollection('users')
    await store.db.collection('users').createIndexes([
      { key: { email: 1 }, name: 'email_1', unique: true },
      { key: { country: 1, createdAt: -1 }, name: 'country_1_createdAt_-1' },
    ])
    await store.db.createCollection('posts')
    await store.db.collection('posts').createIndexes([{ key: { author: 1 }, name: 'by_author' }])
  },
  async down({ store }) {
    await store.db.collection('posts').drop()
    await store.db.collection('users').drop()
  },
})
`)
    expect(await liveState(db)).toEqual({ legacy: { indexes: [] } }) // generating applies nothing

    await up(dir)
    const declared = {
      legacy: { indexes: [] },
      users: {
        indexes: [
          { key: { country: 1, createdAt: -1 }, name: 'country_1_createdAt_-1' },
          { key: { email: 1 }, name: 'email_1', unique: true },
        ],
      },
      posts: { indexes: [{ key: { author: 1 }, name: 'by_author' }] },
    }
    expect(await liveState(db)).toEqual(declared)
    expect(await expectNothing(dir)).toContain('note: collection legacy is in the database but not declared')

    // add an index, change one, drop one, add a collection
    await declare(
      dir,
      `{
  users: { indexes: [{ key: { email: 1 }, unique: true }, { key: { name: 1 } }] },
  posts: { indexes: [{ key: { author: 1, createdAt: -1 }, name: 'by_author' }] },
  comments: { indexes: [{ key: { post: 1, at: 1 }, unique: true }] },
}`,
    )
    const second = await generate(dir, 'reshape')
    expect(second.stdout).toContain(
      'note: index posts.by_author changes (key): up drops it and creates it again, so posts is without it while it builds',
    )
    expect(second.text).toContain(`await store.db.collection('users').dropIndex('country_1_createdAt_-1')`)
    await up(dir)
    const changed = {
      legacy: { indexes: [] },
      users: {
        indexes: [
          { key: { email: 1 }, name: 'email_1', unique: true },
          { key: { name: 1 }, name: 'name_1' },
        ],
      },
      posts: { indexes: [{ key: { author: 1, createdAt: -1 }, name: 'by_author' }] },
      comments: { indexes: [{ key: { post: 1, at: 1 }, name: 'post_1_at_1', unique: true }] },
    }
    expect(await liveState(db)).toEqual(changed)
    await expectNothing(dir)
    expect(await db.collection('legacy').countDocuments()).toBe(1)

    const down = await flux(['down', '--steps', '1', '--yes'], dir)
    expect(down.code, down.stderr + down.stdout).toBe(0)
    expect(await liveState(db)).toEqual(declared)
  })

  it('refuses a store without a declaration, a missing one and an invalid one, naming the file', async () => {
    const { dir } = await fresh(url)
    const plain = await project(`mongoStore({ url: ${JSON.stringify(url)}, database: 'flux_never_created' })`, {})
    const none = await flux(['new', 'x', '--autogenerate', '--store', 'reviews'], plain)
    expect(none.code).toBe(2)
    expect(none.stderr).toContain('declares no collections to compare with')
    expect(none.stderr).toContain("add declared: 'db/mongo.ts'")
    const notPath = await project(
      `mongoStore({ url: ${JSON.stringify(url)}, database: 'flux_never_created', declared: 42 as never })`,
      {},
    )
    const number = await flux(['new', 'x', '--autogenerate', '--store', 'reviews'], notPath)
    expect(number.code).toBe(2)
    expect(number.stderr).toContain('declared must be the path of a module')

    const missing = await flux(['new', 'x', '--autogenerate', '--store', 'reviews'], dir)
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('cannot read the declared collections db/mongo.ts: no such file')

    await declare(dir, `{ users: { indexes: [{ key: { email: 1 }, uniqe: true }] } }`)
    const unknown = await flux(['new', 'x', '--autogenerate', '--store', 'reviews'], dir)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('db/mongo.ts: collection users, index 1 has unknown options: uniqe')

    await declare(dir, `{ users: { indexes: [{ key: { a: 1 } }, { key: { b: 1 }, name: 'a_1' }] } }`)
    const twice = await flux(['new', 'x', '--autogenerate', '--store', 'reviews'], dir)
    expect(twice.code).toBe(2)
    expect(twice.stderr).toContain('db/mongo.ts: collection users declares two indexes named a_1')
    expect(await migrationFiles(dir)).toEqual([])
  })

  it('writes validators and index options even where the server lacks them, in a migration that typechecks', async () => {
    const { db, dir } = await fresh(url)
    await db.collection('events').createIndex({ at: 1 }, { name: 'at_1' })
    await declare(
      dir,
      `{
  events: {
    indexes: [
      { key: { at: 1 }, expireAfterSeconds: 3600 },
      { key: { user: 1, 'meta.kind': -1 }, partialFilterExpression: { user: { $exists: true } }, sparse: false },
    ],
    validator: { $jsonSchema: { bsonType: 'object', required: ['at'] } },
    validationAction: 'warn',
  },
  users: { indexes: [{ key: { email: 1 }, unique: true }], validator: { $jsonSchema: { bsonType: 'object' } } },
}`,
    )
    const { file, text, stdout } = await generate(dir, 'everything')
    // FerretDB 1.x lacks all of these: the migration says so
    const version = (await db.admin().command({ buildInfo: 1 })).ferretdbVersion as string | undefined
    const ferret = version?.startsWith('v1.')
      ? `// flux: this server is FerretDB ${version}, which has no validators, TTL indexes (expireAfterSeconds), partial indexes: the steps that set them fail there; run them against MongoDB\n`
      : ''
    expect(stdout).toContain(ferret.replace('// flux:', '  note:'))
    expect(text).toBe(`import { defineMigration } from '@flux/core'
import type { MongoStoreClient } from '@flux/mongo'

// generated by \`flux new --autogenerate\` from the store's declared schema: review it before applying
// flux: index events.at_1 changes (expireAfterSeconds): up drops it and creates it again, so events is without it while it builds
// flux: down drops collection users, which up creates, with the documents written to it since
${ferret}export default defineMigration<MongoStoreClient>({
  store: 'reviews',
  async up({ store }) {
    await store.db.collection('events').dropIndex('at_1')
    await store.db.collection('events').createIndexes([
      { key: { at: 1 }, name: 'at_1', expireAfterSeconds: 3600 },
      {
        key: { user: 1, 'meta.kind': -1 },
        name: 'user_1_meta.kind_-1',
        partialFilterExpression: { user: { $exists: true } },
      },
    ])
    await store.db.command({
      collMod: 'events',
      validator: { $jsonSchema: { bsonType: 'object', required: ['at'] } },
      validationLevel: 'strict',
      validationAction: 'warn',
    })
    await store.db.createCollection('users', {
      validator: { $jsonSchema: { bsonType: 'object' } },
      validationLevel: 'strict',
      validationAction: 'error',
    })
    await store.db.collection('users').createIndexes([{ key: { email: 1 }, name: 'email_1', unique: true }])
  },
  async down({ store }) {
    await store.db.collection('users').drop()
    await store.db.command({
      collMod: 'events',
      validator: {},
      validationLevel: 'strict',
      validationAction: 'error',
    })
    await store.db.collection('events').dropIndex('at_1')
    await store.db.collection('events').dropIndex('user_1_meta.kind_-1')
    await store.db.collection('events').createIndexes([{ key: { at: 1 }, name: 'at_1' }])
  },
})
`)
    expect(await typeErrors(dir, [join('migrations', file)])).toEqual([])
    // and a mistake, so that a check that checked nothing would fail
    const broken = join('migrations', 'broken.ts')
    await writeFile(join(dir, broken), text.replace('store.db.command(', 'store.db.comand('))
    expect(await typeErrors(dir, [broken])).toEqual([expect.stringContaining("Property 'comand' does not exist")])
  })

  it('generates validators and TTL, partial and sparse indexes, where the server has them', (context) =>
    validatorRoundTrip(url, context.skip))
})

// a real MongoDB, where validators and every index option round-trip
describe.skipIf(!REPLSET_URL)('flux new --autogenerate (mongo, FLUX_TEST_MONGO_REPLSET_URL)', () => {
  it('generates validators and TTL, partial and sparse indexes', (context) =>
    validatorRoundTrip(REPLSET_URL!, context.skip))
})

/** What tsc says of these files of the project, in a strict TypeScript setup: the lines of its errors. */
async function typeErrors(dir: string, files: string[]): Promise<string[]> {
  // no package.json of its own: @flux/mongo resolves by self-reference, as at run time
  await writeFile(
    join(dir, 'tsconfig.json'),
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
      files,
    }),
  )
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  const stdout = await promisify(execFile)(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], {
    cwd: dir,
  }).then(
    (result) => result.stdout,
    (error: { stdout: string }) => error.stdout,
  )
  return stdout.split('\n').filter((line) => /error TS\d+/.test(line))
}

/**
 * What the server lacks of validators and index options, tried in a scratch collection of the
 * test's own database. FerretDB 1.24 refuses validators, TTL and partial indexes (NotImplemented)
 * and accepts `sparse` without keeping it.
 */
async function lackingFeatures(db: Db): Promise<string[]> {
  const lacking: string[] = []
  const attempt = async (what: string, action: () => Promise<unknown>) => {
    try {
      await action()
      return true
    } catch (error) {
      const code = (error as { code?: number }).code ?? 0
      if (!UNSUPPORTED_CODES.has(code)) throw error
      lacking.push(`${what} (${(error as Error).message})`)
      return false
    }
  }
  await attempt('collection validators', () =>
    db.createCollection('probe_validator', { validator: { $jsonSchema: { bsonType: 'object' } } }),
  )
  await attempt('collMod', () =>
    db.createCollection('probe_collmod').then(() => db.command({ collMod: 'probe_collmod' })),
  )
  await attempt('TTL indexes', () => db.collection('probe_ttl').createIndex({ at: 1 }, { expireAfterSeconds: 60 }))
  await attempt('partial indexes', () =>
    db.collection('probe_partial').createIndex({ a: 1 }, { partialFilterExpression: { a: { $exists: true } } }),
  )
  if (await attempt('sparse indexes', () => db.collection('probe_sparse').createIndex({ s: 1 }, { sparse: true }))) {
    const kept = (await db.collection('probe_sparse').listIndexes().toArray()).some((index) => index.sparse === true)
    if (!kept) lacking.push('sparse indexes (created, but listIndexes does not show sparse: true)')
  }
  for (const probe of ['probe_validator', 'probe_collmod', 'probe_ttl', 'probe_partial', 'probe_sparse']) {
    await db
      .collection(probe)
      .drop()
      .catch(() => {})
  }
  return lacking
}

/** Declares validators and index options, generates, applies, changes them, applies, and goes down: where the server has them. */
async function validatorRoundTrip(url: string, skip: (note: string) => never): Promise<void> {
  const { db, dir } = await fresh(url)
  const lacking = await lackingFeatures(db)
  if (lacking.length > 0) {
    skip(`skipped: this server does not implement ${lacking.join('; ')}`)
  }
  await declare(
    dir,
    `{
  events: {
    indexes: [
      { key: { at: 1 }, expireAfterSeconds: 3600 },
      { key: { user: 1 }, partialFilterExpression: { user: { $exists: true } } },
      { key: { tag: 1 }, sparse: true },
    ],
    validator: { $jsonSchema: { bsonType: 'object', required: ['at'] } },
  },
  users: {},
}`,
  )
  await db.createCollection('users')
  await generate(dir, 'events')
  await up(dir)
  const first = await liveState(db)
  expect(first).toEqual({
    events: {
      indexes: [
        { key: { at: 1 }, name: 'at_1', expireAfterSeconds: 3600 },
        { key: { tag: 1 }, name: 'tag_1', sparse: true },
        { key: { user: 1 }, name: 'user_1', partialFilterExpression: { user: { $exists: true } } },
      ],
      validator: { $jsonSchema: { bsonType: 'object', required: ['at'] } },
      validationLevel: 'strict',
      validationAction: 'error',
    },
    users: { indexes: [] },
  })
  await expectNothing(dir)

  await declare(
    dir,
    `{
  events: {
    indexes: [{ key: { at: 1 }, expireAfterSeconds: 60 }],
    validator: { $jsonSchema: { bsonType: 'object', required: ['at', 'user'] } },
    validationAction: 'warn',
  },
  users: { validator: { $jsonSchema: { bsonType: 'object', required: ['email'] } } },
}`,
  )
  const second = await generate(dir, 'validators')
  expect(second.text).toContain(`    await store.db.command({
      collMod: 'users',
      validator: { $jsonSchema: { bsonType: 'object', required: ['email'] } },
      validationLevel: 'strict',
      validationAction: 'error',
    })`)
  await up(dir)
  expect(await liveState(db)).toEqual({
    events: {
      indexes: [{ key: { at: 1 }, name: 'at_1', expireAfterSeconds: 60 }],
      validator: { $jsonSchema: { bsonType: 'object', required: ['at', 'user'] } },
      validationLevel: 'strict',
      validationAction: 'warn',
    },
    users: {
      indexes: [],
      validator: { $jsonSchema: { bsonType: 'object', required: ['email'] } },
      validationLevel: 'strict',
      validationAction: 'error',
    },
  })
  await expectNothing(dir)
  const down = await flux(['down', '--steps', '1', '--yes'], dir)
  expect(down.code, down.stderr + down.stdout).toBe(0)
  expect(await liveState(db)).toEqual(first)
}
