// Fleets on MongoDB (a database per member) and Redis (a key prefix per member), issue 21:
// `flux up` brings every member to head, each with the ledger in its own database or under
// its own prefix, and `flux status` tells where each stands.

import { randomBytes } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describeWithServer } from '@flux/core/testing'
import { afterAll, expect, it } from 'vitest'
import { MongoClient, Redis } from './drivers.ts'
import { emptyProject, flux } from './helpers.ts'

const TENANTS = ['acme', 'globex', 'initech']
const unique = (label: string) => `${label}_${randomBytes(4).toString('hex')}`

/** A project whose one store is the fleet `tenants`, made by `factory` (a function of `tenant`). */
async function storeFleetProject(
  imports: string,
  factory: string,
  migrations: Record<string, string>,
): Promise<string> {
  const dir = await emptyProject()
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig, fleet } from '@flux/core'
${imports}
export default defineConfig({
  stores: {
    tenants: fleet({
      members: () => (process.env.TENANTS ?? '').split(',').filter(Boolean),
      store: (tenant) => ${factory},
    }),
  },
  migrations: './migrations',
})
`,
  )
  await mkdir(join(dir, 'migrations'))
  for (const [name, source] of Object.entries(migrations)) await writeFile(join(dir, 'migrations', name), source)
  return dir
}

async function fleetStatus(dir: string, env: Record<string, string>) {
  const result = await flux(['status', '--json'], dir, env)
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  return JSON.parse(result.stdout).fleets[0]
}

describeWithServer('FLUX_TEST_MONGO_URL', 'a fleet of MongoDB databases', () => {
  const url = process.env.FLUX_TEST_MONGO_URL!
  const databases: string[] = []
  afterAll(async () => {
    const client = new MongoClient(url)
    await client.connect()
    try {
      for (const database of databases) await client.db(database).dropDatabase()
    } finally {
      await client.close()
    }
  })

  it('up brings every member database to head; status says so, and sees a new member behind', async () => {
    const prefix = unique('fleet')
    databases.push(...[...TENANTS, 'hooli'].map((tenant) => `${prefix}_${tenant}`))
    const dir = await storeFleetProject(
      "import { mongoStore } from '@flux/mongo'",
      `mongoStore({ url: process.env.FLUX_TEST_MONGO_URL, database: \`${prefix}_\${tenant}\` })`,
      {
        '0001_users.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'tenants',
  async up({ store }) {
    await store.db.createCollection('users')
    await store.db.collection('users').insertOne({ _id: 'admin', role: 'owner' })
  },
})
`,
        '0002_plans.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'tenants',
  async up({ store }) {
    await store.db.collection('users').updateMany({}, { $set: { plan: 'free' } })
  },
})
`,
      },
    )
    const env = { TENANTS: TENANTS.join(',') }
    const up = await flux(['up'], dir, env)
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    expect(up.stdout).toContain('fleet tenants: 3 members, 3 at their target (6 migrations applied)')

    const client = new MongoClient(url)
    await client.connect()
    try {
      for (const tenant of TENANTS) {
        const db = client.db(`${prefix}_${tenant}`)
        const names = (await db.listCollections().toArray()).map((collection) => collection.name)
        expect(names).toContain('users')
        expect(await db.collection('users').find().toArray()).toEqual([{ _id: 'admin', role: 'owner', plan: 'free' }])
      }
    } finally {
      await client.close()
    }

    const status = await fleetStatus(dir, env)
    expect(status.summary).toEqual({ 'at-head': 3, behind: 0, dirty: 0, unreachable: 0 })
    const grown = await fleetStatus(dir, { TENANTS: [...TENANTS, 'hooli'].join(',') })
    expect(grown.summary).toEqual({ 'at-head': 3, behind: 1, dirty: 0, unreachable: 0 })
    expect(grown.members[3]).toEqual({ member: 'hooli', state: 'behind', applied: 0, pending: 2, dirty: [] })
  })
})

describeWithServer('FLUX_TEST_REDIS_URL', 'a fleet of Redis prefixes', () => {
  const url = process.env.FLUX_TEST_REDIS_URL!
  const prefixes: string[] = []
  afterAll(async () => {
    const redis = new Redis(url)
    try {
      for (const prefix of prefixes) {
        const keys = await redis.keys(`*${prefix}*`)
        if (keys.length > 0) await redis.del(...keys)
      }
    } finally {
      redis.disconnect()
    }
  })

  it('up brings every member prefix to head, once each; status says so', async () => {
    const prefix = unique('fleet')
    prefixes.push(prefix)
    const dir = await storeFleetProject(
      "import { redisStore } from '@flux/redis'",
      `redisStore({ url: process.env.FLUX_TEST_REDIS_URL, prefix: \`${prefix}:\${tenant}\` })`,
      {
        '0001_seed.ts': `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'tenants',
  async up({ store }) {
    await store.redis.incr('${prefix}:runs')
  },
})
`,
      },
    )
    const env = { TENANTS: TENANTS.join(',') }
    const up = await flux(['up'], dir, env)
    expect(up.stderr).toBe('')
    expect(up.code).toBe(0)
    expect(up.stdout).toContain('fleet tenants: 3 members, 3 at their target (3 migrations applied)')
    const again = await flux(['up'], dir, env)
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('fleet tenants: 3 members, 3 at their target (0 migrations applied)')

    const redis = new Redis(url)
    try {
      // once per member: three runs, and each member's ledger under its own prefix
      expect(await redis.get(`${prefix}:runs`)).toBe('3')
      for (const tenant of TENANTS) expect(await redis.keys(`{${prefix}:${tenant}}:ledger`)).toHaveLength(1)
    } finally {
      redis.disconnect()
    }
    const status = await fleetStatus(dir, env)
    expect(status.summary).toEqual({ 'at-head': 3, behind: 0, dirty: 0, unreachable: 0 })
    expect(status.members.map((member: { state: string }) => member.state)).toEqual(['at-head', 'at-head', 'at-head'])
  })
})
