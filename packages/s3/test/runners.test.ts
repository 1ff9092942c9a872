import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { finish, project, s3StoreSource, start, statusOf } from './cli-helpers.ts'
import { deleteAll, describeWithServer, randomPrefix, testStore } from './s3-test-helpers.ts'

const NAMES = Array.from({ length: 12 }, (_, index) => `${String(index + 1).padStart(3, '0')}_step`)

/** A migration whose one side effect outside the store is a line in EFFECTS_FILE; every fourth takes a while. */
const appending = (name: string, index: number) => `import { appendFileSync } from 'node:fs'
import { defineMigration } from '@flux/core'
export default defineMigration({
  store: 'media',
  async up({ store }) {
    ${index % 4 === 0 ? 'await new Promise((resolve) => setTimeout(resolve, 300))' : ''}
    appendFileSync(process.env.EFFECTS_FILE, ${JSON.stringify(`${name}\n`)})
    await store.put(${JSON.stringify(`steps/${name}`)}, String(process.pid))
  },
})
`

describeWithServer('runners started together against one bucket and prefix', () => {
  const prefix = randomPrefix('runners')
  afterAll(() => deleteAll(prefix))

  it('never apply a migration twice: each side effect happens once, and every runner exits 0', async () => {
    const files = Object.fromEntries(NAMES.map((name, index) => [`migrations/${name}.ts`, appending(name, index)]))
    // two checkouts of the same application (two hosts), three runners
    const [one, two] = await Promise.all([
      project({ media: s3StoreSource(prefix) }, files),
      project({ media: s3StoreSource(prefix) }, files),
    ])
    const env = { EFFECTS_FILE: join(one, 'effects.log') }
    const runners = await Promise.all([one, two, one].map((dir) => finish(start(['up', '--json'], dir, env))))
    for (const runner of runners) expect(runner.code, runner.stderr).toBe(0)

    const effects = (await readFile(env.EFFECTS_FILE, 'utf8')).split('\n').filter(Boolean)
    expect(effects).toEqual(NAMES)
    const applied = runners.flatMap((runner) =>
      JSON.parse(runner.stdout)
        .steps.filter((step: { status: string }) => step.status === 'applied')
        .map((step: { id: string }) => step.id),
    )
    expect(applied.sort()).toEqual(NAMES.map((name) => `app/${name}`))
    for (const dir of [one, two]) expect(await statusOf(dir)).toEqual(NAMES.map((name) => [`app/${name}`, 'applied']))
    expect((await testStore(prefix).ledger.read()).map((entry) => entry.id)).toEqual(NAMES.map((name) => `app/${name}`))
    expect(await testStore(prefix).inspectLease()).toBeUndefined()
  }, 90_000)
})
