// Stores side by side (issue 17): `flux up` runs the migrations of stores that nothing orders
// at the same time, in lanes, against the real servers. The migrations write what they do,
// with the time, to journal.log in the project folder: overlap is read from there, never from
// the test's own clock.

import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describeWithServer } from '@flux/core/testing'
import { afterAll, expect, it } from 'vitest'
import { pg, Redis } from './drivers.ts'
import { emptyProject, flux, statusJson } from './helpers.ts'

const unique = (label: string) => `${label}_${randomBytes(4).toString('hex')}`
const schemas: string[] = []
const redisKeys: string[] = []

afterAll(async () => {
  if (process.env.FLUX_TEST_PG_URL && schemas.length > 0) {
    const client = new pg.Client({ connectionString: process.env.FLUX_TEST_PG_URL })
    await client.connect()
    for (const schema of schemas) await client.query(`drop schema if exists ${schema} cascade`)
    await client.end()
  }
  if (process.env.FLUX_TEST_REDIS_URL && redisKeys.length > 0) {
    const redis = new Redis(process.env.FLUX_TEST_REDIS_URL)
    for (const prefix of redisKeys) {
      const keys = await redis.keys(`*${prefix}*`)
      if (keys.length > 0) await redis.del(...keys)
    }
    redis.disconnect()
  }
})

/** A project with a pg store `catalog`, a redis store `cache` and an fs store `files`. */
async function lanesProject(migrations: Record<string, string>): Promise<{ dir: string; schema: string }> {
  const schema = unique('lanes')
  schemas.push(schema)
  redisKeys.push(schema)
  const dir = await emptyProject()
  await writeFile(
    join(dir, 'flux.config.ts'),
    `import { defineConfig } from '@flux/core'
import { fsStore } from '@flux/fs'
import { pgStore } from '@flux/pg'
import { redisStore } from '@flux/redis'
export default defineConfig({
  stores: {
    catalog: pgStore({ url: process.env.FLUX_TEST_PG_URL, schema: '${schema}' }),
    cache: redisStore({ url: process.env.FLUX_TEST_REDIS_URL, prefix: '${schema}:' }),
    files: fsStore({ root: './var/files' }),
  },
  migrations: './migrations',
  allowBranches: true,
  lease: { ttlMs: 60_000, waitMs: 3_000 },
})
`,
  )
  await mkdir(join(dir, 'migrations'))
  for (const [name, source] of Object.entries(migrations)) {
    await writeFile(join(dir, 'migrations', name), source.replaceAll('SCHEMA', schema))
  }
  return { dir, schema }
}

/** What each store's migration writes in the store itself: the time it ran. */
const WRITES: Record<string, (name: string) => string> = {
  catalog: (name) =>
    `await store.query('create table SCHEMA.${name} (at bigint)'); await store.query('insert into SCHEMA.${name} values ($1)', [Date.now()])`,
  cache: (name) => `await store.redis.set('SCHEMA:${name}', String(Date.now()))`,
  files: (name) => `await store.put('${name}.txt', String(Date.now()))`,
}

/**
 * A migration of `store` that writes `start <name> <ms>` to journal.log, waits (up to 5 s) for
 * the journal to say `start <awaits>` when asked, writes to its store, and ends with
 * `end <name> <ms>` (or throws, after `ms`).
 */
function laneMigration(
  name: string,
  store: string,
  options: { parents?: string[]; uses?: string[]; awaits?: string; fails?: boolean; ms?: number } = {},
): string {
  const fields = [
    `store: '${store}'`,
    ...(options.parents ? [`parents: ${JSON.stringify(options.parents)}`] : []),
    ...(options.uses ? [`uses: ${JSON.stringify(options.uses)}`] : []),
  ]
  return `import { appendFileSync, readFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
const mark = (what: string) => appendFileSync('journal.log', \`\${what} \${Date.now()}\\n\`)
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
export default defineMigration({
  ${fields.join(',\n  ')},
  async up({ store }: { store: any }) {
    mark('start ${name}')
    ${
      options.awaits
        ? `for (let tick = 0; tick < 100 && !readFileSync('journal.log', 'utf8').includes('start ${options.awaits} '); tick++) await pause(50)`
        : ''
    }
    ${WRITES[store]!(name)}
    await pause(${options.ms ?? 20})
    ${options.fails ? `mark('fail ${name}')\n    throw new Error('${name} went wrong')` : ''}
    mark('end ${name}')
  },
})
`
}

/** journal.log as `[event, ms]`, in the order written. */
async function journal(dir: string): Promise<{ lines: string[]; at: (event: string) => number }> {
  const text = await readFile(join(dir, 'journal.log'), 'utf8').catch(() => '')
  const entries = text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const space = line.lastIndexOf(' ')
      return [line.slice(0, space), Number(line.slice(space + 1))] as const
    })
  const times = new Map(entries)
  return {
    lines: entries.map(([event]) => event),
    at: (event) => {
      const time = times.get(event)
      if (time === undefined) throw new Error(`journal.log has no "${event}": ${text}`)
      return time
    },
  }
}

describeWithServer('FLUX_TEST_PG_URL', 'lanes', () => {
  describeWithServer('FLUX_TEST_REDIS_URL', 'on pg and redis', () => {
    it('runs two stores that nothing orders side by side, and says the store on each line', async () => {
      const { dir, schema } = await lanesProject({
        '001_pg_a.ts': laneMigration('pg_a', 'catalog', { parents: [], awaits: 'redis_a' }),
        '002_redis_a.ts': laneMigration('redis_a', 'cache', { parents: [], awaits: 'pg_a' }),
        '003_pg_b.ts': laneMigration('pg_b', 'catalog', { parents: ['001_pg_a'] }),
        '004_redis_b.ts': laneMigration('redis_b', 'cache', { parents: ['002_redis_a'] }),
      })
      const result = await flux(['up'], dir)
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      const { at } = await journal(dir)
      // each started before the other ended: they ran at the same time
      expect(at('start redis_a')).toBeLessThanOrEqual(at('end pg_a'))
      expect(at('start pg_a')).toBeLessThanOrEqual(at('end redis_a'))
      // a store's own steps stay one after another
      expect(at('start pg_b')).toBeGreaterThanOrEqual(at('end pg_a'))
      expect(at('start redis_b')).toBeGreaterThanOrEqual(at('end redis_a'))
      expect(result.stdout).toMatch(/^catalog │ ✓ applied {2}app\/001_pg_a /m)
      expect(result.stdout).toMatch(/^cache {3}│ ✓ applied {2}app\/002_redis_a /m)
      expect(result.stdout).toContain('4 applied')
      expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied', 'applied', 'applied', 'applied'])
      // what the migrations wrote is in the stores
      const client = new pg.Client({ connectionString: process.env.FLUX_TEST_PG_URL })
      await client.connect()
      const rows = await client.query(`select at from ${schema}.pg_b`)
      await client.end()
      expect(rows.rows).toHaveLength(1)
      const redis = new Redis(process.env.FLUX_TEST_REDIS_URL!)
      const written = await redis.get(`${schema}:redis_b`)
      redis.disconnect()
      expect(Number(written)).toBeGreaterThan(0)
    })

    it('with --concurrency 1 runs one migration at a time, in the order of `flux plan`', async () => {
      const { dir } = await lanesProject({
        '001_pg_a.ts': laneMigration('pg_a', 'catalog', { parents: [] }),
        '002_redis_a.ts': laneMigration('redis_a', 'cache', { parents: [] }),
        '003_pg_b.ts': laneMigration('pg_b', 'catalog', { parents: ['001_pg_a'] }),
      })
      const result = await flux(['up', '--concurrency', '1'], dir)
      expect(result.code).toBe(0)
      expect((await journal(dir)).lines).toEqual([
        'start pg_a',
        'end pg_a',
        'start redis_a',
        'end redis_a',
        'start pg_b',
        'end pg_b',
      ])
      // one at a time: the lines are as before lanes, without the store
      expect(result.stdout).toMatch(/^✓ applied {2}app\/001_pg_a /m)
      const bad = await flux(['up', '--concurrency', '0'], dir)
      expect(bad.code).toBe(2)
      expect(bad.stderr).toContain('--concurrency must be a whole number ≥ 1, got "0"')
      // down refuses it before it asks or reverts anything
      const badDown = await flux(['down', '--steps', '1', '--yes', '--concurrency', 'two'], dir)
      expect(badDown.code).toBe(2)
      expect(badDown.stderr).toContain('--concurrency must be a whole number ≥ 1, got "two"')
      expect((await statusJson(dir)).map((row) => row.status)).toEqual(['applied', 'applied', 'applied'])
    })

    it('starts a migration that uses two stores once both lanes are done, and an edge orders two stores', async () => {
      const { dir } = await lanesProject({
        '001_pg_a.ts': laneMigration('pg_a', 'catalog', { parents: [], ms: 200 }),
        '002_redis_a.ts': laneMigration('redis_a', 'cache', { parents: [] }),
        '003_pg_uses_redis.ts': laneMigration('pg_uses_redis', 'catalog', {
          parents: ['001_pg_a', '002_redis_a'],
          uses: ['cache'],
        }),
        // an edge from pg to files: files waits although it shares no store with pg
        '004_files_a.ts': laneMigration('files_a', 'files', { parents: ['001_pg_a'] }),
        '005_files_free.ts': laneMigration('files_free', 'files', { parents: [] }),
      })
      const plan = await flux(['plan'], dir)
      expect(plan.code).toBe(0)
      expect(plan.stdout).toContain('lanes: 2, side by side')
      expect(plan.stdout).toContain('  cache + catalog (3 steps): app/001_pg_a, app/002_redis_a, app/003_pg_uses_redis')
      expect(plan.stdout).toContain('  files (2 steps): app/004_files_a, app/005_files_free — waits for app/001_pg_a')
      const planJson = JSON.parse((await flux(['plan', '--json'], dir)).stdout)
      expect(planJson.lanes).toEqual([
        {
          stores: ['cache', 'catalog'],
          steps: ['app/001_pg_a', 'app/002_redis_a', 'app/003_pg_uses_redis'],
          after: [],
        },
        { stores: ['files'], steps: ['app/004_files_a', 'app/005_files_free'], after: ['app/001_pg_a'] },
      ])
      const result = await flux(['up', '--json'], dir)
      expect(result.code).toBe(0)
      const { at } = await journal(dir)
      expect(at('start pg_uses_redis')).toBeGreaterThanOrEqual(at('end pg_a'))
      expect(at('start pg_uses_redis')).toBeGreaterThanOrEqual(at('end redis_a'))
      expect(at('start files_a')).toBeGreaterThanOrEqual(at('end pg_a'))
      const report = JSON.parse(result.stdout)
      expect(report.ok).toBe(true)
      expect(report.lanes.map((lane: { stores: string[]; state: string }) => [lane.stores, lane.state])).toEqual([
        [['cache', 'catalog'], 'done'],
        [['files'], 'done'],
      ])
    })

    it('a failing lane stops new work in every lane; the running ones finish, are recorded, and each lane says where it stopped', async () => {
      const { dir } = await lanesProject({
        '001_pg_a.ts': laneMigration('pg_a', 'catalog', { parents: [], awaits: 'redis_a', fails: true }),
        '002_redis_a.ts': laneMigration('redis_a', 'cache', { parents: [], awaits: 'pg_a', ms: 1000 }),
        '003_pg_b.ts': laneMigration('pg_b', 'catalog', { parents: ['001_pg_a'] }),
        '004_redis_b.ts': laneMigration('redis_b', 'cache', { parents: ['002_redis_a'] }),
      })
      const result = await flux(['up'], dir)
      expect(result.code).toBe(1)
      const { lines, at } = await journal(dir)
      // redis_a was running when pg_a failed: it finished; nothing started after the failure
      expect(at('fail pg_a')).toBeLessThan(at('end redis_a'))
      expect(lines).not.toContain('start pg_b')
      expect(lines).not.toContain('start redis_b')
      expect(result.stdout).toContain('catalog │ ✗ failed   app/001_pg_a')
      expect(result.stdout).toContain('cache   │ ✓ applied  app/002_redis_a')
      expect(result.stdout).toContain('1 applied, 2 not run, 1 failed')
      expect(result.stdout).toContain('  lane cache: 1 applied, 1 not started (app/004_redis_b)')
      expect(result.stdout).toContain('  lane catalog: 0 applied, failed at app/001_pg_a, 1 not started (app/003_pg_b)')
      expect(result.stderr).toContain('pg_a went wrong')
      expect((await statusJson(dir)).map((row) => [row.id, row.status])).toEqual([
        ['app/001_pg_a', 'pending'],
        ['app/002_redis_a', 'applied'],
        ['app/003_pg_b', 'pending'],
        ['app/004_redis_b', 'pending'],
      ])
    })
  })
})
