// Stores side by side, going down (issue 17): `flux down` reverts the migrations of stores
// that nothing orders at the same time, in lanes, newest first in each lane, against the real
// servers. The migrations write what they do, with the time, to journal.log in the project
// folder: order and overlap are read from there, never from the test's own clock.

import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describeWithServer } from '@flux/core/testing'
import { afterAll, expect, it } from 'vitest'
import { pg, Redis } from './drivers.ts'
import { emptyProject, flux, statusJson } from './helpers.ts'

const unique = (label: string) => `${label}_${randomBytes(4).toString('hex')}`
const schemas: string[] = []

afterAll(async () => {
  if (process.env.FLUX_TEST_PG_URL && schemas.length > 0) {
    const client = new pg.Client({ connectionString: process.env.FLUX_TEST_PG_URL })
    await client.connect()
    for (const schema of schemas) await client.query(`drop schema if exists ${schema} cascade`)
    await client.end()
  }
  if (process.env.FLUX_TEST_REDIS_URL && schemas.length > 0) {
    const redis = new Redis(process.env.FLUX_TEST_REDIS_URL)
    for (const schema of schemas) {
      const keys = await redis.keys(`*${schema}*`)
      if (keys.length > 0) await redis.del(...keys)
    }
    redis.disconnect()
  }
})

/** What each store's migration does in the store itself, up and down. */
const WORK: Record<string, { up: (name: string) => string; down: (name: string) => string }> = {
  catalog: {
    up: (name) => `await store.query('create table SCHEMA.${name} (at bigint)')`,
    down: (name) => `await store.query('drop table SCHEMA.${name}')`,
  },
  cache: {
    up: (name) => `await store.redis.set('SCHEMA:${name}', String(Date.now()))`,
    down: (name) => `await store.redis.del('SCHEMA:${name}')`,
  },
  files: {
    up: (name) => `await store.put('${name}.txt', String(Date.now()))`,
    down: (name) => `await store.delete('${name}.txt')`,
  },
}

/**
 * A migration of `store`, the first of its lane (`parents: []`) or after `parent`. Its down
 * writes `start down <name>` to journal.log, waits (up to 5 s) for the journal to hold
 * `awaits` when asked, undoes its up, waits `ms`, and writes `end down <name>` (or throws).
 */
function laneMigration(
  name: string,
  store: string,
  options: { parent?: string; awaits?: string; fails?: boolean; ms?: number } = {},
): string {
  return `import { appendFileSync, readFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
const mark = (what: string) => appendFileSync('journal.log', \`\${what} \${Date.now()}\\n\`)
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
export default defineMigration({
  store: '${store}',
  parents: ${JSON.stringify(options.parent ? [options.parent] : [])},
  async up({ store }: { store: any }) {
    ${WORK[store]!.up(name)}
  },
  async down({ store }: { store: any }) {
    mark('start down ${name}')
    ${
      options.awaits
        ? `for (let tick = 0; tick < 100 && !readFileSync('journal.log', 'utf8').includes('${options.awaits} '); tick++) await pause(50)`
        : ''
    }
    ${WORK[store]!.down(name)}
    await pause(${options.ms ?? 20})
    ${options.fails ? `mark('fail down ${name}')\n    throw new Error('${name} cannot be undone')` : ''}
    mark('end down ${name}')
  },
})
`
}

/** A project with a pg store `catalog`, a redis store `cache` and an fs store `files`, all applied. */
async function appliedProject(migrations: Record<string, string>): Promise<{ dir: string; schema: string }> {
  const schema = unique('lanes_down')
  schemas.push(schema)
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
  const up = await flux(['up'], dir)
  if (up.code !== 0) throw new Error(`flux up failed (${up.code}):\n${up.stdout}\n${up.stderr}`)
  return { dir, schema }
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

async function tablesIn(schema: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: process.env.FLUX_TEST_PG_URL })
  await client.connect()
  const { rows } = await client.query(
    `select table_name as name from information_schema.tables where table_schema = '${schema}' and table_name not like 'flux%' order by 1`,
  )
  await client.end()
  return rows.map((row) => row.name)
}

async function cacheKeys(schema: string): Promise<string[]> {
  const redis = new Redis(process.env.FLUX_TEST_REDIS_URL!)
  const keys = await redis.keys(`${schema}:*`)
  redis.disconnect()
  // flux's own keys are under the hash tag {<prefix>}
  return keys.filter((key) => !key.startsWith('{')).sort()
}

describeWithServer('FLUX_TEST_PG_URL', 'lanes going down', () => {
  describeWithServer('FLUX_TEST_REDIS_URL', 'on pg, redis and fs', () => {
    it('reverts every lane side by side with --concurrency 4, newest first in each lane', async () => {
      const { dir, schema } = await appliedProject({
        '001_pg_a.ts': laneMigration('pg_a', 'catalog'),
        '002_pg_b.ts': laneMigration('pg_b', 'catalog', { parent: '001_pg_a', awaits: 'start down redis_b' }),
        '003_redis_a.ts': laneMigration('redis_a', 'cache'),
        '004_redis_b.ts': laneMigration('redis_b', 'cache', { parent: '003_redis_a', awaits: 'start down pg_b' }),
        '005_files_a.ts': laneMigration('files_a', 'files'),
        '006_files_b.ts': laneMigration('files_b', 'files', { parent: '005_files_a' }),
      })
      expect(await tablesIn(schema)).toEqual(['pg_a', 'pg_b'])
      expect(await cacheKeys(schema)).toEqual([`${schema}:redis_a`, `${schema}:redis_b`])

      const result = await flux(['down', 'base', '--yes', '--concurrency', '4'], dir)
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      const { at } = await journal(dir)
      // the newest of two lanes were reverted at the same time: each started before the other ended
      expect(at('start down redis_b')).toBeLessThanOrEqual(at('end down pg_b'))
      expect(at('start down pg_b')).toBeLessThanOrEqual(at('end down redis_b'))
      // in each lane, newest first
      expect(at('start down pg_a')).toBeGreaterThanOrEqual(at('end down pg_b'))
      expect(at('start down redis_a')).toBeGreaterThanOrEqual(at('end down redis_b'))
      expect(at('start down files_a')).toBeGreaterThanOrEqual(at('end down files_b'))
      // each line says its store
      expect(result.stdout).toMatch(/^catalog │ ✓ reverted {1,2}app\/002_pg_b /m)
      expect(result.stdout).toMatch(/^cache {3}│ ✓ reverted {1,2}app\/004_redis_b /m)
      expect(result.stdout).toMatch(/^files {3}│ ✓ reverted {1,2}app\/006_files_b /m)
      expect(result.stdout).toContain('6 reverted')
      // every lane is down, in the ledgers and in the stores
      expect((await statusJson(dir)).map((row) => row.status)).toEqual(new Array(6).fill('pending'))
      expect(await tablesIn(schema)).toEqual([])
      expect(await cacheKeys(schema)).toEqual([])
    })

    it('a failing down stops new work in every lane; the running ones finish and are recorded; each lane says where it stopped; exit 1', async () => {
      const { dir, schema } = await appliedProject({
        '001_pg_a.ts': laneMigration('pg_a', 'catalog'),
        '002_pg_b.ts': laneMigration('pg_b', 'catalog', {
          parent: '001_pg_a',
          awaits: 'start down files_b',
          fails: true,
        }),
        '003_redis_a.ts': laneMigration('redis_a', 'cache'),
        '004_redis_b.ts': laneMigration('redis_b', 'cache', { parent: '003_redis_a', awaits: 'fail down pg_b' }),
        '005_files_a.ts': laneMigration('files_a', 'files'),
        '006_files_b.ts': laneMigration('files_b', 'files', { parent: '005_files_a', awaits: 'fail down pg_b' }),
      })
      const result = await flux(['down', 'base', '--yes', '--concurrency', '4'], dir)
      expect(result.code).toBe(1)
      const { lines, at } = await journal(dir)
      // redis_b and files_b were running when pg_b failed: they finished; nothing started after the failure
      expect(at('fail down pg_b')).toBeLessThanOrEqual(at('end down redis_b'))
      expect(at('fail down pg_b')).toBeLessThanOrEqual(at('end down files_b'))
      expect(lines.filter((line) => line.startsWith('start down'))).toEqual(
        expect.arrayContaining(['start down pg_b', 'start down redis_b', 'start down files_b']),
      )
      expect(lines).not.toContain('start down pg_a')
      expect(lines).not.toContain('start down redis_a')
      expect(lines).not.toContain('start down files_a')
      expect(result.stderr).toContain('pg_b cannot be undone')
      expect(result.stdout).toContain('catalog │ ✗ failed   app/002_pg_b')
      expect(result.stdout).toMatch(/^cache {3}│ ✓ reverted {1,2}app\/004_redis_b /m)
      expect(result.stdout).toMatch(/^files {3}│ ✓ reverted {1,2}app\/006_files_b /m)
      expect(result.stdout).toContain('2 reverted, 3 not run, 1 failed')
      expect(result.stdout).toContain(
        '  lane catalog: 0 reverted, failed at app/002_pg_b, 1 not started (app/001_pg_a)',
      )
      expect(result.stdout).toContain('  lane cache: 1 reverted, 1 not started (app/003_redis_a)')
      expect(result.stdout).toContain('  lane files: 1 reverted, 1 not started (app/005_files_a)')
      // the failed down ran in a pg transaction: rolled back, still applied, its table still there
      expect((await statusJson(dir)).map((row) => [row.id, row.status])).toEqual([
        ['app/001_pg_a', 'applied'],
        ['app/002_pg_b', 'applied'],
        ['app/003_redis_a', 'applied'],
        ['app/004_redis_b', 'pending'],
        ['app/005_files_a', 'applied'],
        ['app/006_files_b', 'pending'],
      ])
      expect(await tablesIn(schema)).toEqual(['pg_a', 'pg_b'])
      expect(await cacheKeys(schema)).toEqual([`${schema}:redis_a`])

      // again, with --json: the three lanes start together; two finish, catalog fails again
      const again = await flux(['down', 'base', '--yes', '--concurrency', '4', '--json'], dir)
      expect(again.code).toBe(1)
      const report = JSON.parse(again.stdout)
      expect(report.ok).toBe(false)
      const lanes = Object.fromEntries(
        report.lanes.map(
          (lane: { stores: string[]; state: string; done: string[]; failed: string[]; notStarted: string[] }) => [
            lane.stores.join('+'),
            { state: lane.state, done: lane.done, failed: lane.failed, notStarted: lane.notStarted },
          ],
        ),
      )
      expect(lanes).toEqual({
        catalog: { state: 'failed', done: [], failed: ['app/002_pg_b'], notStarted: ['app/001_pg_a'] },
        cache: { state: 'done', done: ['app/003_redis_a'], failed: [], notStarted: [] },
        files: { state: 'done', done: ['app/005_files_a'], failed: [], notStarted: [] },
      })
      expect((await statusJson(dir)).map((row) => row.status)).toEqual([
        'applied',
        'applied',
        'pending',
        'pending',
        'pending',
        'pending',
      ])
    })
  })
})
