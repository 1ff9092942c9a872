// (a) Eight runners started together on one project of 100 pending migrations: every
// migration is applied exactly once, by one of them.
import { expect, it } from 'vitest'
import { describeStore, faultProject, finish, migrationNames, migrationSource } from './fault-project.ts'
import { measure, type RunnersFigures } from './figures.ts'
import { FAULT_STORES } from './stores.ts'

const RUNNERS = 8
const MIGRATIONS = 100

for (const store of FAULT_STORES) {
  describeStore(store, `${RUNNERS} concurrent runners`, () => {
    it(`apply ${MIGRATIONS} migrations exactly once`, () =>
      measure<RunnersFigures>(
        'a',
        store.name,
        { runners: RUNNERS, migrations: MIGRATIONS, doubles: 0, refused: 0 },
        async (figures) => {
          const project = await faultProject(store, {
            lease: '{ ttlMs: 10000 }',
            migrations: (effect) =>
              Object.fromEntries(migrationNames(MIGRATIONS).map((name) => [name, migrationSource(effect(name))])),
          })
          const results = await Promise.all(Array.from({ length: RUNNERS }, () => finish(project.start(['up']))))
          const counts = await project.counts()
          figures.doubles = project.names.filter((name) => (counts.get(name) ?? 0) > 1).length
          // PGlite lets one process at a time open its directory: the others are refused, and say why
          const refused = results.filter((result) => result.code === 1 && /it is open in process/.test(result.stderr))
          figures.refused = store.name === 'pglite' ? refused.length : 0

          expect(figures.doubles).toBe(0)
          for (const result of results) {
            if (store.name !== 'pglite' || !refused.includes(result)) expect(result.code, result.stderr).toBe(0)
          }
          const applied = results.map((result) => (result.stdout.match(/✓ applied/g) ?? []).length)
          expect(applied.reduce((sum, count) => sum + count, 0)).toBe(MIGRATIONS)
          await project.expectExactlyOnce()
        },
      ))
  })
}
