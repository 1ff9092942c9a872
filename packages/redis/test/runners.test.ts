import { afterAll, expect, it } from 'vitest'
import { finish, project, start, statusOf } from './cli-helpers.ts'
import { CLUSTER, deleteMatching, describeWith, globOf, randomName } from './redis-test-helpers.ts'

const NAMES = ['001_a', '002_b', '003_slow', '004_d', '005_e']

/** A migration whose side effect is one RPUSH of its name to the effects list, outside flux's keys. */
const pushing = (name: string) => `import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'cache',
  async up({ store }) {
    ${name.includes('slow') ? 'await new Promise((resolve) => setTimeout(resolve, 400))' : ''}
    await store.redis.rpush(process.env.EFFECTS_KEY, ${JSON.stringify(name)})
  },
})
`

describeWith(CLUSTER, 'runners started together against one cluster', (target) => {
  const effects = `${randomName('runners')}:effects`
  const prefix = randomName('runners-ledger')
  afterAll(async () => {
    await deleteMatching(target.admin(), globOf(effects))
    await deleteMatching(target.admin(), globOf(`{${prefix}}`))
  })

  it('never apply a migration twice: each side effect happens once, and all runners exit 0', async () => {
    const dir = await project(
      target.configSource(prefix),
      Object.fromEntries(NAMES.map((name) => [`${name}.ts`, pushing(name)])),
    )
    const env = { EFFECTS_KEY: effects }
    const runners = await Promise.all(Array.from({ length: 3 }, () => finish(start(['up', '--json'], dir, env))))
    for (const runner of runners) expect(runner.code, runner.stderr).toBe(0)
    expect(await target.admin().lrange(effects, 0, -1)).toEqual(NAMES)
    const applied = runners.flatMap((runner) =>
      JSON.parse(runner.stdout)
        .steps.filter((step: { status: string }) => step.status === 'applied')
        .map((step: { id: string }) => step.id),
    )
    expect(applied.sort()).toEqual(NAMES.map((name) => `app/${name}`))
    expect(await statusOf(dir)).toEqual(NAMES.map((name) => [`app/${name}`, 'applied']))
  })
})
