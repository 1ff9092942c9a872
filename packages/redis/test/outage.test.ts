import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exists, finish, flux, project, start, statusOf, waitFor } from './cli-helpers.ts'
import { type OwnRedis, startOwnRedis } from './own-redis.ts'

const PASSWORD = 'outage-test-password'

/** A migration that sets its key; `extra` runs after that. */
const setting = (key: string, extra = '') => `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'cache',
  async up({ store }) {
    await store.redis.set(${JSON.stringify(key)}, 'done')
    ${extra}
  },
})
`

// 002 does its work, says so with started.flag, then waits for go.flag: the test stops Redis in between
const WAITING = `const { existsSync, writeFileSync } = await import('node:fs')
    writeFileSync('started.flag', '')
    while (!existsSync('go.flag')) await new Promise((resolve) => setTimeout(resolve, 20))`

describe('Redis stopped in the middle of a run (a redis-server of this test, on its own port)', () => {
  let server: OwnRedis
  beforeAll(async () => {
    server = await startOwnRedis({ password: PASSWORD })
  })
  afterAll(() => server?.stop())

  it('up exits 1 naming the store; after a restart status shows what was applied and what is dirty; up completes', async () => {
    const env = { OWN_REDIS_URL: server.url }
    const dir = await project(`redisStore({ url: process.env.OWN_REDIS_URL, prefix: 'outage' })`, {
      '001_a.ts': setting('a'),
      '002_slow.ts': setting('b', WAITING),
      '003_c.ts': setting('c'),
    })
    const run = finish(start(['up', '--json'], dir, env))
    await waitFor(() => exists(join(dir, 'started.flag')), 'migration 002 to do its work')
    await server.kill()
    await writeFile(join(dir, 'go.flag'), '')

    const failed = await run
    expect(failed.code, failed.stderr).toBe(1)
    expect(failed.stderr).toContain('store "cache"')
    // the step's applied record goes with the next step's running record, in one script
    expect(failed.stderr).toContain(
      `redis 127.0.0.1:${server.port}: cannot record app/002_slow as applied and app/003_c as running in the ledger`,
    )
    expect(failed.stderr).toContain('unreachable')
    for (const output of [failed.stdout, failed.stderr]) expect(output).not.toContain(PASSWORD)
    const report = JSON.parse(failed.stdout)
    expect(report.steps.map((step: { id: string; status: string }) => [step.id, step.status])).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_slow', 'failed'],
      ['app/003_c', 'skipped'],
    ])

    await server.restart()
    expect(await statusOf(dir, env)).toEqual([
      ['app/001_a', 'applied'],
      ['app/002_slow', 'dirty'],
      ['app/003_c', 'pending'],
    ])
    const redis = new Redis(server.url)
    try {
      expect(await redis.mget('a', 'b', 'c')).toEqual(['done', 'done', null])

      // the dirty migration stops up; its work is all there, so it is resolved as applied
      const blocked = await flux(['up'], dir, env)
      expect(blocked.code, blocked.stderr).toBe(3)
      expect(blocked.stderr).toContain('app/002_slow')
      // the dead runner's lease is taken over at once (its pid is gone), not after 30 s
      const resolved = await flux(['resolve', '002_slow', '--applied'], dir, env)
      expect(resolved.code, resolved.stderr).toBe(0)
      const done = await flux(['up'], dir, env)
      expect(done.code, done.stderr).toBe(0)
      expect(await statusOf(dir, env)).toEqual([
        ['app/001_a', 'applied'],
        ['app/002_slow', 'applied'],
        ['app/003_c', 'applied'],
      ])
      expect(await redis.mget('a', 'b', 'c')).toEqual(['done', 'done', 'done'])
    } finally {
      await redis.quit()
    }
  })
})
