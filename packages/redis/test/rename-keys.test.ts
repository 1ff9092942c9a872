import { afterAll, expect, it } from 'vitest'
import { flux, project, statusOf } from './cli-helpers.ts'
import { deleteMatching, describeWith, globOf, keysMatching, randomName, TARGETS } from './redis-test-helpers.ts'

const COUNT = 100_000
/** Every 10th key expires (in an hour and a bit), every 100th is a hash: RENAME and DUMP/RESTORE keep both. */
const ttlOf = (index: number) => (index % 10 === 0 ? 3_600_000 + index : undefined)
const isHash = (index: number) => index % 100 === 1

// The keys live under a random namespace (`<ns>:session:*`), so that the shared servers'
// other users are never touched; the migration is the one the issue asks for, under it.
const RENAME = `import { defineMigration } from '@flux/core'
const ns = process.env.TEST_NAMESPACE
const from = \`\${ns}:session:\`
const to = \`\${ns}:sess:v2:\`
export default defineMigration({
  store: 'cache',
  async up({ store, signal, log }) {
    const renamed = await store.renameKeys(\`\${from}*\`, (key) => to + key.slice(from.length), { signal })
    log(\`renamed \${renamed} keys\`)
  },
  async down({ store, signal }) {
    await store.renameKeys(\`\${to}*\`, (key) => from + key.slice(to.length), { signal })
  },
})
`

async function inChunks<T>(count: number, size: number, fn: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = []
  for (let first = 0; first < count; first += size) {
    const chunk = Array.from({ length: Math.min(size, count - first) }, (_, offset) => fn(first + offset))
    results.push(...(await Promise.all(chunk)))
  }
  return results
}

for (const target of TARGETS) {
  describeWith(target, 'renaming 100,000 keys session:* → sess:v2:* with a migration', () => {
    const ns = randomName('rename')
    const prefix = randomName('rename-ledger')
    afterAll(async () => {
      await deleteMatching(target.admin(), globOf(`${ns}:`))
      await deleteMatching(target.admin(), globOf(`{${prefix}}`))
    })

    it('renames every key keeping its value, type and TTL, and down restores them all', async () => {
      const redis = target.admin()
      const values = Array.from({ length: COUNT }, (_, index) => `v${index}-${randomName('value')}`)
      const seededAt = Date.now()
      await inChunks<unknown>(COUNT, 5_000, (index) => {
        const key = `${ns}:session:${index}`
        if (isHash(index)) return redis.hset(key, { value: values[index]!, index: String(index) })
        const ttl = ttlOf(index)
        return ttl ? redis.set(key, values[index]!, 'PX', ttl) : redis.set(key, values[index]!)
      })

      /** Checks every key under `prefix`: the right set of keys, each with its value and TTL. */
      const expectAll = async (prefix: string) => {
        const keys = await keysMatching(redis, globOf(`${ns}:`))
        expect(keys.length).toBe(COUNT)
        expect(keys.every((key) => key.startsWith(prefix))).toBe(true)
        const problems = (
          await inChunks(COUNT, 5_000, async (index) => {
            const key = `${prefix}${index}`
            const [value, ttl] = await Promise.all([
              isHash(index) ? redis.hgetall(key).then((hash) => hash.value) : redis.get(key),
              redis.pttl(key),
            ])
            const expected = ttlOf(index)
            const elapsed = Date.now() - seededAt
            const ttlOk = expected === undefined ? ttl === -1 : ttl <= expected && ttl >= expected - elapsed - 1_000
            return value === values[index] && ttlOk ? undefined : `${key}: value ${value}, pttl ${ttl}`
          })
        ).filter(Boolean)
        expect(problems.slice(0, 5)).toEqual([])
      }

      const dir = await project(target.configSource(prefix), { '001_rename_sessions.ts': RENAME })
      const env = { TEST_NAMESPACE: ns }
      const up = await flux(['up'], dir, env)
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain(`renamed ${COUNT} keys`)
      await expectAll(`${ns}:sess:v2:`)
      expect(await statusOf(dir, env)).toEqual([['app/001_rename_sessions', 'applied']])

      const down = await flux(['down', 'base'], dir, env)
      expect(down.code, down.stderr).toBe(0)
      await expectAll(`${ns}:session:`)
      expect(await statusOf(dir, env)).toEqual([['app/001_rename_sessions', 'pending']])
    }, 180_000)
  })
}
