import { cp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { flux, removeAfterAll, TMP } from './cli-helpers.ts'
import { deleteMatching, describeWith, globOf, randomName, TARGETS } from './redis-test-helpers.ts'

const EXAMPLE = join(import.meta.dirname, '..', 'examples', 'functions')
const MIGRATION = join('migrations', '20260101000000_counters-library.ts')

for (const target of TARGETS) {
  describeWith(target, 'examples/functions: a Redis Functions library as a repeatable migration', () => {
    // functions are global to a server: the library gets a name of its own
    const library = randomName('counters').replaceAll('-', '_')
    const keys = `${library}:`
    afterAll(async () => {
      await deleteMatching(target.admin(), globOf(keys))
      await deleteMatching(target.admin(), globOf(`{${library}}`))
    })

    it('loads the library on every master, reloads it when the file changes, and down deletes it', async () => {
      const dir = removeAfterAll(join(TMP, library))
      await cp(EXAMPLE, dir, { recursive: true })
      const env: Record<string, string> =
        target.name === 'cluster'
          ? { REDIS_CLUSTER: process.env.FLUX_TEST_REDIS_CLUSTER!, REDIS_PREFIX: library }
          : { REDIS_URL: process.env.FLUX_TEST_REDIS_URL!, REDIS_PREFIX: library }
      const run = async (...args: string[]) => {
        const result = await flux(args, dir, env)
        expect(result.code, `flux ${args.join(' ')}: ${result.stderr}`).toBe(0)
        return result
      }
      // keys in many slots, so that on the cluster every master must have the library
      const bumpAll = (round: number) =>
        Promise.all(
          Array.from({ length: 12 }, (_, index) =>
            target.admin().fcall(`${library}_bump`, 1, `${keys}${round}:${index}`, 5),
          ),
        )

      // the example as committed matches its flux.sum
      await run('verify')
      const file = join(dir, MIGRATION)
      await writeFile(file, (await readFile(file, 'utf8')).replaceAll('counters', library))
      await run('sum')
      await run('up')
      expect(await bumpAll(1)).toEqual(Array(12).fill(5))

      // a new version of the library: bump doubles its increment
      const source = await readFile(file, 'utf8')
      await writeFile(file, source.replace("tonumber(args[1] or '1')", "2 * tonumber(args[1] or '1')"))
      await run('sum')
      const status = JSON.parse((await run('status', '--json')).stdout).migrations
      expect(status).toMatchObject([{ status: 'pending', changed: true }])
      const up = JSON.parse((await run('up', '--json')).stdout)
      expect(up.steps).toMatchObject([{ action: 'reapply', status: 'applied' }])
      expect(await bumpAll(2)).toEqual(Array(12).fill(10))
      // unchanged: not run again
      expect(JSON.parse((await run('up', '--json')).stdout).steps).toEqual([])

      await run('down', 'base')
      await expect(bumpAll(3)).rejects.toThrow(/function not found/i)
    })
  })
}
